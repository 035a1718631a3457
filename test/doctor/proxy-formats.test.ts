/**
 * doctor on the logs of HAProxy, Caddy, Envoy, Traefik and an ALB: exact counts per signal from
 * each fixture (HAProxy and Caddy recorded from the real proxies, the others built from their
 * documented formats), the traps that are no proxy cause, a mixed stream with no line lost,
 * rotation in any order, and hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import {
  LINE,
  PROXY_SIGNALS,
  RECORDED_EXAMPLES,
  TRAP_EXAMPLES,
  createLogLineClassifier,
  type FastClassification,
  type ProxyLogFormat,
} from '../../src/causes/index.js';
import { ErrorLogAggregator, summarizeProxyLogs, type ErrorLogSummary } from '../../src/doctor/index.js';
import { createTempDir } from '../../src/util/index.js';
import { runCli } from '../../src/testing/index.js';

const fixture = (name: string): string => new URL(`../../../test/doctor/fixtures/${name}`, import.meta.url).pathname;
/** A fixture's lines, as the reader sees them (no empty line after the last newline). */
const read = (name: string): string[] => readFileSync(fixture(name), 'utf8').replace(/\n$/, '').split('\n');
const counts = (s: ErrorLogSummary): Record<string, number> =>
  Object.fromEntries(s.patterns.map((p) => [p.id, p.count]));

test('HAProxy 2.6 (recorded): every termination state counted exactly, the unix-socket backlog alert, nothing else', async () => {
  const s = await summarizeProxyLogs([{ file: fixture('haproxy.log'), format: 'haproxy' }]);
  assert.deepEqual(counts(s), {
    'haproxy-SC': 9,
    'haproxy-SH': 5,
    'haproxy-unix-backlog': 4,
    'haproxy-sC': 1,
    'haproxy-sD': 1,
    'haproxy-SD': 1,
    'haproxy-sH': 1,
  });
  // The 16 comment lines (the version header, one per case) are no HAProxy lines; the rest are.
  assert.deepEqual(s.lines, {
    total: 47,
    nginx: 0,
    upstreamErrors: 22,
    unknownUpstream: 0,
    notNginx: 47,
    truncated: 0,
    proxy: 31,
    notProxy: 16,
  });
  assert.deepEqual(s.formats, { haproxy: 31 });
  assert.deepEqual(s.statuses, { '502': 5, '503': 10, '504': 1, '500': 0, none: 6 });
  assert.deepEqual(
    s.causes.find((c) => c.cause === 'upstream-down'),
    { cause: 'upstream-down', lines: 9, primary: 9 },
  );
  assert.deepEqual(
    s.causes.find((c) => c.cause === 'backlog-overflow-unix'),
    { cause: 'backlog-overflow-unix', lines: 13, primary: 4 },
  );
  assert.deepEqual(s.upstreams, [
    { name: 'upstream/app', count: 18 },
    { name: 'upstream', count: 4 },
  ]);
  const sc = s.patterns.find((p) => p.id === 'haproxy-SC')!;
  assert.equal(sc.format, 'haproxy');
  assert.equal(sc.level, null);
  assert.match(sc.firstSeen!, /^2026\/11\/30 \d\d:\d\d:\d\d$/);
});

test('Caddy 2.6 (recorded): the Go dial and timeout errors of its JSON log, access and info lines counted as Caddy lines', async () => {
  const s = await summarizeProxyLogs([{ file: fixture('caddy.log'), format: 'caddy' }]);
  assert.deepEqual(counts(s), {
    'caddy-dial-eagain': 4,
    'caddy-dial-refused': 4,
    'caddy-eof': 2,
    'caddy-reset': 2,
    'caddy-body-abort': 1,
    'caddy-dial-enoent': 1,
    'caddy-dial-timeout': 1,
    'caddy-header-timeout': 1,
    'caddy-write-timeout': 1,
  });
  assert.equal(s.lines.unknownUpstream, 0);
  assert.equal(s.lines.proxy + s.lines.notProxy, s.lines.total);
  assert.deepEqual(s.statuses, { '502': 14, '503': 0, '504': 2, '500': 0, none: 1 });
});

test('Envoy (documented): each response flag, Istio format details, JSON; client aborts (DC), via_upstream 503s and health checks are no cause', async () => {
  const s = await summarizeProxyLogs([{ file: fixture('envoy.log'), format: 'envoy' }]);
  assert.deepEqual(counts(s), {
    'envoy-UF': 3,
    'envoy-UC': 2,
    'envoy-UT': 2,
    'envoy-LR': 1,
    'envoy-OM': 1,
    'envoy-UH': 1,
    'envoy-UMSDR': 1,
    'envoy-UO': 1,
    'envoy-UPE': 1,
    'envoy-UR': 1,
    'envoy-URX': 1,
  });
  assert.deepEqual(s.ignored, { clientAbort: 1, appError: 2, healthCheck: 1 });
  assert.deepEqual(s.lines, {
    total: 26,
    nginx: 0,
    upstreamErrors: 15,
    unknownUpstream: 0,
    notNginx: 26,
    truncated: 0,
    proxy: 22,
    notProxy: 4,
  });
});

test('Traefik (documented): OriginStatus 0 with a 502/504, the debug lines naming the Go error (v2 logfmt and JSON, v3 JSON); 499 and app 502s are no cause', async () => {
  const s = await summarizeProxyLogs([{ file: fixture('traefik.log'), format: 'traefik' }]);
  assert.deepEqual(counts(s), {
    'traefik-502-no-response': 1,
    'traefik-504-no-response': 1,
    'traefik-dial-eacces': 1,
    'traefik-dial-eaddrnotavail': 1,
    'traefik-dial-eagain': 1,
    'traefik-dial-enoent': 1,
    'traefik-dial-refused': 1,
    'traefik-dial-timeout': 1,
    'traefik-eof': 1,
    'traefik-header-timeout': 1,
    'traefik-no-server': 1,
    'traefik-no-upstreams': 1,
    'traefik-proxy-emfile': 1,
    'traefik-reset': 1,
    'traefik-too-big-header': 1,
    'traefik-write-timeout': 1,
  });
  assert.deepEqual(s.ignored, { clientAbort: 1, appError: 1, healthCheck: 1 });
  assert.equal(s.lines.unknownUpstream, 0);
  assert.equal(s.patterns.find((p) => p.id === 'traefik-dial-timeout')!.status, 504);
});

test('ALB (documented): target_status_code - with -1 times, 503 without a target, a malformed answer; target_status_code 502 and 460 are no proxy cause', async () => {
  const s = await summarizeProxyLogs([{ file: fixture('alb.log'), format: 'alb' }]);
  assert.deepEqual(counts(s), {
    'alb-502-target-closed': 2,
    'alb-502-bad-response': 1,
    'alb-503-no-target': 1,
    'alb-504-timeout': 1,
    'unknown-upstream-error': 1,
  });
  assert.deepEqual(s.ignored, { clientAbort: 1, appError: 1, healthCheck: 0 });
  assert.deepEqual(s.patterns.find((p) => p.id === 'alb-502-target-closed')!.upstreams, [
    { name: '10.0.0.1:3000', count: 1 },
    { name: '10.0.0.2:3000', count: 1 },
  ]);
});

test('every signal: its example is classified as itself; recorded examples are lines of the recorded fixtures; each documented one cites its page', () => {
  const recorded = new Set([...read('haproxy.log'), ...read('caddy.log')]);
  for (const signal of PROXY_SIGNALS) {
    const into = {} as FastClassification;
    const { kind } = createLogLineClassifier(signal.proxy).classify(signal.example, into);
    assert.equal(kind, LINE.FAILURE, signal.id);
    assert.equal(into.patternId, signal.id, signal.example);
    if (signal.source === 'recorded')
      assert.ok(recorded.has(signal.example), `${signal.id}: recorded example is a fixture line`);
    assert.match(signal.docs, /^https:\/\//, signal.id);
  }
  for (const [id, line] of Object.entries(RECORDED_EXAMPLES))
    assert.equal(PROXY_SIGNALS.find((s) => s.id === id)?.example, line, id);
  // Every signal of the documented proxies that stands for a cause has a line in its fixture.
  for (const proxy of ['envoy', 'traefik', 'alb'] as const) {
    const s = new ErrorLogAggregator({ format: proxy });
    for (const line of read(`${proxy}.log`)) s.add(line);
    const seen = new Set(s.summary().patterns.map((p) => p.id));
    for (const signal of PROXY_SIGNALS.filter((x) => x.proxy === proxy && x.causes.length > 0))
      assert.ok(seen.has(signal.id), `${proxy}.log covers ${signal.id}`);
  }
});

test('traps: client aborts, 5xx the app sent itself and health checks are known lines, never a cause', () => {
  const kinds: Record<string, [ProxyLogFormat, number]> = {
    haproxyClientAbort: ['haproxy', LINE.CLIENT_ABORT],
    envoyClientAbort: ['envoy', LINE.CLIENT_ABORT],
    envoyAppError: ['envoy', LINE.APP_ERROR],
    envoyHealthCheck: ['envoy', LINE.HEALTH_CHECK],
    albAppError: ['alb', LINE.APP_ERROR],
    albClientAbort: ['alb', LINE.CLIENT_ABORT],
    traefikAppError: ['traefik', LINE.APP_ERROR],
    traefikClientAbort: ['traefik', LINE.CLIENT_ABORT],
    traefikHealthCheck: ['traefik', LINE.HEALTH_CHECK],
  };
  for (const [name, line] of Object.entries(TRAP_EXAMPLES)) {
    const [format, kind] = kinds[name]!;
    assert.equal(createLogLineClassifier(format).classify(line, {} as FastClassification).kind, kind, name);
    assert.equal(
      createLogLineClassifier('auto').classify(line, {} as FastClassification).kind,
      kind,
      `${name} (sniffed)`,
    );
  }
  // A line HAProxy ended normally with a 502 of the app's own.
  const app502 =
    '127.0.0.1:50412 [30/Nov/2026:21:50:28.123] badgateway upstream/app 0/0/0/3/3 502 120 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"';
  assert.equal(createLogLineClassifier('haproxy').classify(app502, {} as FastClassification).kind, LINE.APP_ERROR);
  // Caddy's 499: the client canceled while Caddy waited for the upstream.
  const caddy499 =
    '{"level":"error","ts":1796075345.01,"logger":"http.log.error","msg":"context canceled","status":499}';
  assert.equal(createLogLineClassifier('caddy').classify(caddy499, {} as FastClassification).kind, LINE.CLIENT_ABORT);
});

test('HAProxy lines behind a syslog header (RFC 3164 from the socket, rsyslog file, ISO) classify like the raw line', () => {
  const raw = RECORDED_EXAMPLES['haproxy-SC']!;
  const headers = [
    '<134>Nov 30 22:19:27 localhost haproxy[8540]: ',
    'Nov 30 22:19:27 web-1 haproxy[8540]: ',
    '2026-11-30T22:19:27.940123+00:00 web-1 haproxy[8540]: ',
  ];
  const expected = {} as FastClassification;
  createLogLineClassifier('haproxy').classify(raw, expected);
  for (const header of headers) {
    const into = {} as FastClassification;
    assert.equal(createLogLineClassifier('haproxy').classify(header + raw, into).kind, LINE.FAILURE, header);
    assert.deepEqual(into, expected, header);
  }
  // Another program's syslog line is no HAProxy line.
  assert.equal(
    createLogLineClassifier('haproxy').classify(
      'Nov 30 22:19:27 web-1 sshd[77]: Accepted publickey for root',
      {} as FastClassification,
    ).kind,
    LINE.FOREIGN,
  );
});

test('a stream mixing nginx, HAProxy and ALB lines loses none: each counted in its format exactly as alone', async () => {
  const parts = { nginx: read('nginx-error.log'), haproxy: read('haproxy.log'), alb: read('alb.log') };
  const mixed: string[] = [];
  const longest = Math.max(...Object.values(parts).map((p) => p.length));
  for (let i = 0; i < longest; i++) for (const p of Object.values(parts)) if (i < p.length) mixed.push(p[i]!);
  await using dir = await createTempDir('mixed');
  await writeFile(dir.file('mixed.log'), mixed.join('\n'));
  const together = await summarizeProxyLogs([{ file: dir.file('mixed.log'), format: 'auto' }]);
  const alone = await summarizeProxyLogs([
    { file: fixture('nginx-error.log'), format: 'nginx' },
    { file: fixture('haproxy.log'), format: 'haproxy' },
    { file: fixture('alb.log'), format: 'alb' },
  ]);
  assert.deepEqual(counts(together), counts(alone));
  assert.deepEqual(together.formats, alone.formats);
  assert.deepEqual(together.ignored, alone.ignored);
  assert.deepEqual(together.statuses, alone.statuses);
  // Every line is a proxy line of some format, or counted as not one: none is lost.
  assert.equal(together.lines.total, mixed.length);
  assert.equal(together.lines.proxy + together.lines.notProxy, mixed.length);
  assert.equal(together.lines.proxy, alone.lines.proxy);
  assert.equal(together.lines.upstreamErrors, alone.lines.upstreamErrors);
});

test('rotated HAProxy files in any order (plain + gzip) add up to the whole; first/last seen span them', async () => {
  const lines = read('haproxy.log');
  await using dir = await createTempDir('rotated');
  await writeFile(dir.file('haproxy.log'), lines.slice(25).join('\n'));
  await writeFile(dir.file('haproxy.log.1.gz'), gzipSync(`${lines.slice(0, 25).join('\n')}\n`));
  const whole = await summarizeProxyLogs([{ file: fixture('haproxy.log'), format: 'haproxy' }]);
  const parts = await summarizeProxyLogs([
    { file: dir.file('haproxy.log'), format: 'haproxy' },
    { file: dir.file('haproxy.log.1.gz'), format: 'haproxy' },
  ]);
  assert.deepEqual(counts(parts), counts(whole));
  for (const p of whole.patterns) {
    const q = parts.patterns.find((x) => x.id === p.id)!;
    assert.deepEqual([q.firstSeen, q.lastSeen], [p.firstSeen, p.lastSeen], p.id);
  }
  assert.deepEqual(parts.timeline, whole.timeline);
});

test('hostile input: random bytes, cut lines, JSON of the wrong shape and huge lines never throw in any format', () => {
  const seeds = [
    ...read('haproxy.log'),
    ...read('caddy.log'),
    ...read('envoy.log'),
    ...read('traefik.log'),
    ...read('alb.log'),
  ];
  let seed = 99;
  const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const hostile = [
    '{"level":"error","ts":"x","logger":"http.log.error","msg":null,"status":"502"}',
    '{"level":"error","ts":1,"logger":"http.log.error"',
    '{"DownstreamStatus":"abc","OriginStatus":{}}',
    '{"response_flags":["UF"],"response_code":[]}',
    '[2026-11-30T21:50:28.310Z] "GET',
    'http 2026-11-30T21:50:28Z x y z',
    '127.0.0.1:1 [30/Nov/2026:21:50:28.123] a b c d e f g h i',
    `<134>Nov 30 22:19:27 h haproxy[1]: ${'x'.repeat(20000)}`,
    '\u0000\u0001\u0002 haproxy[',
  ];
  for (let i = 0; i < 3000; i++) {
    const base = seeds[rand(seeds.length)]!;
    const kind = rand(3);
    hostile.push(
      kind === 0
        ? base.slice(0, rand(base.length + 1))
        : kind === 1
          ? Array.from({ length: rand(200) }, () => String.fromCharCode(rand(256))).join('')
          : base.replace(/\d/g, () => String(rand(10))),
    );
  }
  for (const format of ['auto', 'nginx', 'haproxy', 'caddy', 'envoy', 'traefik', 'alb'] as const) {
    const a = new ErrorLogAggregator({ format });
    for (const line of hostile) a.add(line);
    const s = a.summary();
    assert.equal(s.lines.total, hostile.length, format);
    assert.equal(s.lines.proxy + s.lines.notProxy, hostile.length, format);
  }
});

test('doctor --proxy-log on a file in no known format: one line naming the formats tried, exit 2', async () => {
  await using dir = await createTempDir('unknown');
  await writeFile(
    dir.file('app.log'),
    'Traceback (most recent call last):\n  File "app.py", line 1\nValueError: nope\n',
  );
  const r = await runCli(['doctor', '--proxy-log', dir.file('app.log')]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    `badgateway: ${dir.file('app.log')}: none of its 3 lines is in a known format (tried: nginx error log, HAProxy httplog, Caddy JSON log, Envoy access log, Traefik access/debug log, AWS ALB access log)\n`,
  );
  const haproxy = await runCli(['doctor', '--haproxy-log', fixture('alb.log')]);
  assert.equal(haproxy.code, 2);
  assert.match(
    haproxy.stderr,
    /^badgateway: .*alb\.log: none of its 12 lines is in a known format \(tried: HAProxy httplog\)\n$/,
  );
});

test('doctor on a truncated gzip: the report of what was read, then exit 2 naming the file', async () => {
  await using dir = await createTempDir('truncated');
  const gz = gzipSync(readFileSync(fixture('haproxy.log')));
  await writeFile(dir.file('haproxy.log.2.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
  const r = await runCli(['doctor', '--haproxy-log', dir.file('haproxy.log.2.gz'), '--json']);
  assert.equal(r.code, 2);
  const report = JSON.parse(r.stdout) as { errorLog: ErrorLogSummary };
  const file = report.errorLog.files[0]!;
  assert.match(file.error!, /^truncated gzip data \(unexpected end of file\) after \d+ lines$/);
  assert.ok(
    report.errorLog.lines.total > 0 && report.errorLog.lines.total < 47,
    `${report.errorLog.lines.total} lines read before the end`,
  );
  assert.match(
    r.stderr,
    /^badgateway: .*haproxy\.log\.2\.gz: truncated gzip data \(unexpected end of file\) after \d+ lines \(the report above counts what was read\)\n$/,
  );
});

test('doctor --proxy-log sniffs the formats of several files in one report; --envoy-log and --alb-log name the causes', async () => {
  const r = await runCli([
    'doctor',
    '--proxy-log',
    fixture('haproxy.log'),
    fixture('caddy.log'),
    '--alb-log',
    fixture('alb.log'),
    '--json',
  ]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { errorLog: ErrorLogSummary; findings: { cause: string }[] };
  assert.deepEqual(report.errorLog.formats, { haproxy: 31, caddy: 123, alb: 9 });
  assert.deepEqual(
    report.errorLog.files.map((f) => [f.file.replace(/^.*\//, ''), f.format]),
    [
      ['alb.log', 'alb'],
      ['haproxy.log', 'auto'],
      ['caddy.log', 'auto'],
    ],
  );
  assert.ok(report.findings.some((f) => f.cause === 'backlog-overflow-unix'));
  const text = await runCli(['doctor', '--envoy-log', fixture('envoy.log')]);
  assert.match(
    text.stdout,
    /^Proxy log: 26 lines in 1 file \(envoy 22, not a proxy line 4\); 15 upstream\/proxy errors \(502: 1, 503: 11, 504: 3, 500: 0, no response\/truncated: 0; unknown: 0\)$/m,
  );
  assert.match(
    text.stdout,
    /^ {2}not a proxy cause: 1 client abort, 2 5xx sent by the app itself, 1 health-check request$/m,
  );
});
