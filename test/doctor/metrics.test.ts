import assert from 'node:assert/strict';
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createDoctorMetrics, createDoctorSampler } from '../../src/doctor/index.js';
import { renderAccessLogLine } from '../../src/proxy/index.js';
import { createTempDir, which } from '../../src/util/index.js';
import { runCommand } from '../../src/testing/index.js';

const LINES = fileURLToPath(new URL('../../../test/fixtures/nginx-error-lines.txt', import.meta.url));

/** nginx 1.22.1 lines recorded here (the fixture's comment lines dropped). */
async function recordedLines(): Promise<string[]> {
  return (await readFile(LINES, 'utf8')).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

/** Sum of a metric's samples in exposition text whose labels include `match`. */
function sumOf(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!line.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('followed error log: counters grow by the complete lines appended, never shrink on truncation or rotation', {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('bg-metrics-');
  const log = join(dir.path, 'error.log');
  const lines = await recordedLines();
  const readTimeout = lines.find((l) =>
    l.includes('timed out (110: Connection timed out) while reading response header'),
  )!;
  const eagain = lines.find((l) => l.includes('(11: Resource temporarily unavailable)'))!;
  await writeFile(log, `${readTimeout}\n${readTimeout}\n`);
  const sampler = createDoctorSampler({ errorLogs: [log], scanAll: false }, {}, { follow: true });
  const metrics = createDoctorMetrics();
  const scrape = async (): Promise<string> => {
    metrics.update(await sampler.sample());
    return metrics.registry.metrics();
  };
  const name = 'badgateway_proxy_error_log_lines_total';
  let text = await scrape();
  assert.equal(sumOf(text, name, 'pattern="read-timeout"'), 2);
  assert.match(
    text,
    /^badgateway_proxy_error_log_lines_total\{pattern="read-timeout",cause="slow-upstream",status="504",upstream="127\.0\.0\.1:34913"\} 2$/m,
  );

  // A line still being written (no newline yet) waits for the next sample.
  await appendFile(log, `${eagain}\n${eagain.slice(0, 40)}`);
  text = await scrape();
  assert.equal(sumOf(text, name, 'pattern="connect-eagain"'), 1);
  await appendFile(log, `${eagain.slice(40)}\n`);
  text = await scrape();
  assert.equal(sumOf(text, name, 'pattern="connect-eagain"'), 2);
  assert.match(text, /cause="backlog-overflow-unix",status="502",upstream="unix:\/tmp\/bg-up-D8DG8p\/app\.sock"\} 2$/m);

  // Truncated (copytruncate) and rotated (new inode): read from the start, counts keep adding up.
  await writeFile(log, `${readTimeout}\n`);
  text = await scrape();
  assert.equal(sumOf(text, name, 'pattern="read-timeout"'), 3);
  await rename(log, `${log}.1`);
  await writeFile(log, `${readTimeout}\n${readTimeout}\n`);
  text = await scrape();
  assert.equal(sumOf(text, name, 'pattern="read-timeout"'), 5);
  assert.equal(sumOf(text, name), 7);
});

test('hostile log: upstream label values are capped (busiest 50, then "other") and escaped', {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('bg-metrics-');
  const log = join(dir.path, 'error.log');
  const template = (await recordedLines()).find((l) =>
    l.includes('(111: Connection refused) while connecting to upstream, client'),
  )!;
  const lines: string[] = [];
  for (let i = 0; i < 300; i++)
    lines.push(template.replace(/upstream: "[^"]*"/, `upstream: "http://10.0.${i >> 8}.${i & 255}:80/"`));
  // The busiest upstream keeps its own label; a quote and backslash in a name stay one label value.
  for (let i = 0; i < 5; i++)
    lines.push(template.replace(/upstream: "[^"]*"/, 'upstream: "http://bad\\"name\\\\x:80/"'));
  await writeFile(log, `${lines.join('\n')}\n`);
  const metrics = createDoctorMetrics();
  metrics.update(await createDoctorSampler({ errorLogs: [log], scanAll: false }).sample());
  const text = await metrics.registry.metrics();
  const series = text.split('\n').filter((l) => l.startsWith('badgateway_proxy_error_log_lines_total{'));
  assert.equal(series.length, 51, 'fifty upstreams and "other"');
  assert.equal(sumOf(text, 'badgateway_proxy_error_log_lines_total'), 305);
  assert.equal(sumOf(text, 'badgateway_proxy_error_log_lines_total', 'upstream="other"'), 300 - 49);
  await checkMetricsWithPromtool(text);
});

test('every exporter output passes promtool check metrics (names, units, _total, help)', {
  timeout: 20_000,
}, async (t) => {
  if (!which('promtool')) return t.skip('promtool not installed (apt-get install prometheus)');
  await using dir = await createTempDir('bg-metrics-');
  const log = join(dir.path, 'error.log');
  await writeFile(log, `${(await recordedLines()).join('\n')}\n`);
  // The access-log format both proxies write.
  const access = join(dir.path, 'access.log');
  const entry = (status: number, upstreamStatus: string): string =>
    renderAccessLogLine({
      remote_addr: '127.0.0.1',
      time_local: '26/Nov/2026:07:47:01 +0000',
      request: 'GET / HTTP/1.1',
      status,
      body_bytes_sent: 0,
      upstream_status: upstreamStatus,
      upstream_response_time: '0.001',
      request_time: '0.001',
    });
  await writeFile(
    access,
    `${[entry(200, '200'), entry(502, '502'), entry(504, '504'), entry(200, '502, 200')].join('\n')}\n`,
  );
  const metrics = createDoctorMetrics();
  metrics.update(
    await createDoctorSampler({ errorLogs: [log], accessLogs: [access], pids: [process.pid], intervalMs: 0 }).sample(),
  );
  const text = await metrics.registry.metrics();
  assert.equal(sumOf(text, 'badgateway_proxy_responses_total'), 4);
  assert.equal(sumOf(text, 'badgateway_proxy_responses_total', 'status="502"'), 1);
  assert.equal(sumOf(text, 'badgateway_proxy_upstream_attempts_total', 'status="502"'), 2);
  assert.ok(sumOf(text, 'badgateway_process_open_fds') > 0);
  await checkMetricsWithPromtool(text);
});

async function checkMetricsWithPromtool(text: string): Promise<void> {
  if (!which('promtool')) return;
  const r = await runCommand('promtool', ['check', 'metrics'], { input: text });
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint warning');
}

test('doctor --prometheus follows the error log it was given: the scrape shows lines appended after it started', {
  timeout: 30_000,
}, async () => {
  const { startCli } = await import('../../src/testing/index.js');
  await using dir = await createTempDir('bg-metrics-');
  const log = join(dir.path, 'error.log');
  const refused = (await recordedLines()).find((l) =>
    l.includes('(111: Connection refused) while connecting to upstream, client'),
  )!;
  await writeFile(log, `${refused}\n`);
  const cli = startCli(['doctor', '--nginx-error-log', log, '--watch', '200ms', '--prometheus', '0']);
  try {
    const [, url] = await cli.waitForLine(/^metrics on (http:\S+)$/);
    const count = async (): Promise<number> =>
      sumOf(await (await fetch(url!)).text(), 'badgateway_proxy_error_log_lines_total', 'cause="upstream-down"');
    assert.equal(await count(), 1);
    await appendFile(log, `${refused}\n${refused}\n`);
    let seen = 0;
    for (let i = 0; i < 50 && seen < 3; i++) {
      seen = await count();
      if (seen < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(seen, 3);
  } finally {
    assert.equal((await cli.stop('SIGINT')).code, 1, cli.stderr);
  }
});
