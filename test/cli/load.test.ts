import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createTempDir, waitFor } from '../../src/util/index.js';
import { renderProgressLine } from '../../src/report/index.js';
import { runCli, startCli } from '../helpers/cli.js';
import { closedPort, startServer } from '../load/servers.js';

test('load: bad input is one line naming the option, exit 2', { timeout: 30_000 }, async () => {
  const dir = await createTempDir('load');
  writeFileSync(dir.file('bad-targets.txt'), 'nonsense\n');
  const cases: [string[], RegExp][] = [
    [['load'], /url: "" is not valid \(expected a target URL/],
    [['load', 'nope'], /url: "nope" is not valid/],
    [['load', 'ftp://127.0.0.1/'], /url: "ftp:\/\/127\.0\.0\.1\/" is not valid/],
    [['load', 'http://127.0.0.1/', '--rate', '-1'], /'-r, --rate <rate>' argument '-1' is invalid/],
    [['load', 'http://127.0.0.1/', '--rate', 'NaN'], /'-r, --rate <rate>' argument 'NaN' is invalid/],
    [['load', 'http://127.0.0.1/', '--duration', '0'], /'-d, --duration <duration>' argument '0' is invalid/],
    [['load', 'http://127.0.0.1/', '--duration', '-5s'], /'-d, --duration <duration>' argument '-5s' is invalid/],
    [['load', 'http://127.0.0.1/', '--connections', '0'], /'-c, --connections <n>' argument '0' is invalid/],
    [['load', '--targets', dir.file('none.txt')], /--targets: cannot read .*none\.txt \(ENOENT\)/],
    [['load', '--targets', dir.file('bad-targets.txt')], /bad-targets\.txt:1: expected "METHOD URL"/],
    [['load', 'http://localhost/', '--unix-socket', dir.file('none.sock')], /--unix-socket: .*none\.sock does not exist/],
    [['load', 'http://localhost/', '--unix-socket', dir.file('bad-targets.txt')], /is not a unix socket/],
    [['load', 'http://127.0.0.1/', '-H', 'no-colon'], /--header: "no-colon" is not valid/],
    [['load', 'http://127.0.0.1/', '-X', 'G E T'], /--method: "G E T" is not valid/],
    [['load', 'http://127.0.0.1/', '--body', `@${dir.file('none.json')}`], /--body: cannot read/],
    [['load', 'http://127.0.0.1/', '--output', dir.file('no/dir/out.ndjson')], /--output: cannot write/],
    [['report'], /missing required argument 'files'/],
    [['report', dir.file('none.ndjson')], /cannot read .*none\.ndjson \(ENOENT\)/],
    [['report', dir.file('bad-targets.txt')], /not a badgateway results file/],
  ];
  try {
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.ok(r.stderr.trim().split('\n').length <= 2, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  } finally {
    await dir.close();
  }
});

test('load prints a vegeta-style report; report merges two result files into the totals of both', { timeout: 30_000 }, async () => {
  const server = await startServer((_req, res, n) => {
    res.statusCode = n % 4 === 0 ? 502 : 200;
    res.end('hello');
  });
  const dir = await createTempDir('load');
  try {
    const [a, b] = await Promise.all([
      runCli(['load', server.url, '--rate', '100', '--duration', '500ms', '--output', dir.file('a.ndjson')]),
      runCli(['load', server.url, '--rate', '60', '--duration', '500ms', '--output', dir.file('b.ndjson'), '--json']),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(a.stdout, /^Requests\s+\[total, rate, throughput\]\s+50, /m);
    assert.match(a.stdout, /^Rate\s+\[asked, achieved\]\s+100\.00, /m);
    assert.match(a.stdout, /^Bytes In\s+\[total, mean\]\s+250, 5\.00$/m);
    assert.match(a.stdout, /^Error Set:$/m);
    const aCodes = /^Status Codes\s+\[code:count\]\s+(.*)$/m.exec(a.stdout)![1]!;
    const aCount = (code: string): number => Number(new RegExp(`${code}:(\\d+)`).exec(aCodes)?.[1] ?? 0);
    const bJson = JSON.parse(b.stdout) as { requests: number; statusCodes: Record<string, number>; timeline: unknown[] };
    assert.equal(bJson.requests, 30);
    assert.equal(aCount('200') + aCount('502'), 50);
    assert.equal((bJson.statusCodes['200'] ?? 0) + (bJson.statusCodes['502'] ?? 0), 30);
    // The server alternates by its own counter across both runs: 80 requests, 20 of them 502.
    assert.equal(aCount('502') + (bJson.statusCodes['502'] ?? 0), 20);

    const merged = await runCli(['report', dir.file('a.ndjson'), dir.file('b.ndjson'), '--json']);
    assert.equal(merged.code, 0, merged.stderr);
    const m = JSON.parse(merged.stdout) as { requests: number; statusCodes: Record<string, number>; bytesIn: number; files: number };
    assert.equal(m.requests, 80);
    assert.deepEqual(m.statusCodes, { '200': 60, '502': 20 });
    assert.equal(m.bytesIn, 400);
    assert.equal(m.files, 2);
    const text = await runCli(['report', dir.file('a.ndjson')]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^Requests\s+\[total, rate, throughput\]\s+50, /m);
    assert.match(text.stdout, new RegExp(`^Status Codes\\s+\\[code:count\\]\\s+${aCodes.replace(/ /g, ' ')}$`, 'm'));
  } finally {
    await dir.close();
    await server.close();
  }
});

test('load: failed requests are data (exit 0); --fail-on-errors makes them exit 1; --targets from a file', { timeout: 20_000 }, async () => {
  const port = await closedPort();
  const server = await startServer((req, res) => res.end(`${req.method} ${req.url}`));
  const dir = await createTempDir('load');
  try {
    writeFileSync(dir.file('body.txt'), 'payload');
    writeFileSync(dir.file('targets.txt'), `GET ${server.url}a\nX-A: 1\n\nPOST ${server.url}b\n@body.txt\n`);
    const [plain, strict, targets] = await Promise.all([
      runCli(['load', `http://127.0.0.1:${port}/`, '--rate', '50', '--duration', '200ms']),
      runCli(['load', `http://127.0.0.1:${port}/`, '--rate', '50', '--duration', '200ms', '--fail-on-errors']),
      runCli(['load', '--targets', dir.file('targets.txt'), '--rate', '50', '--duration', '200ms', '--json']),
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^Error Set:\nECONNREFUSED: 10$/m);
    assert.match(plain.stdout, /^Success\s+\[ratio\]\s+0\.00%$/m);
    assert.equal(strict.code, 1);
    assert.equal(targets.code, 0, targets.stderr);
    const m = JSON.parse(targets.stdout) as { requests: number; bytesOut: number; bytesIn: number; statusCodes: Record<string, number> };
    assert.equal(m.requests, 10);
    assert.deepEqual(m.statusCodes, { '200': 10 });
    assert.equal(m.bytesOut, 5 * 7);
    assert.equal(m.bytesIn, 5 * 'GET /a'.length + 5 * 'POST /b'.length);
  } finally {
    await dir.close();
    await server.close();
  }
});

test('load: Ctrl-C stops sending and still prints the report; no progress line when stderr is piped', { timeout: 20_000 }, async () => {
  const server = await startServer((_req, res) => res.end('ok'));
  try {
    const cli = startCli(['load', server.url, '--rate', '50', '--duration', '30s']);
    await waitFor('requests to arrive', () => server.requests >= 10, { timeoutMs: 10_000 });
    const exit = await cli.stop('SIGINT');
    assert.equal(exit.code, 130);
    assert.match(cli.stdout, /^Requests\s+\[total, rate, throughput\]\s+(\d+), /m);
    const sent = Number(/^Requests\s+\[total, rate, throughput\]\s+(\d+), /m.exec(cli.stdout)![1]);
    assert.equal(sent, server.requests);
    assert.match(cli.stdout, /^Status Codes\s+\[code:count\]\s+200:\d+$/m);
    assert.match(cli.stdout, /^Interrupted: /m);
    assert.equal(cli.stderr, '');
  } finally {
    await server.close();
  }
});

test('load --help shows examples', { timeout: 10_000 }, async () => {
  const r = await runCli(['load', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:\n {2}\$ badgateway load http:\/\/127\.0\.0\.1:8080\/ -r 200/);
  assert.match(r.stdout, /--no-keepalive/);
  const report = await runCli(['report', '--help']);
  assert.match(report.stdout, /Examples:/);
});

test('the progress line shows elapsed time, a bar, sent, rate and errors', () => {
  const line = renderProgressLine({ elapsedMs: 5000, durationMs: 10_000, sent: 500, done: 490, inflight: 10, errors: 3, success: 487, rateAsked: 100 });
  assert.equal(line, '████████████░░░░░░░░░░░░ 5.0/10.0s  sent 500  100 req/s (asked 100)  in flight 10  ok 487  errors 3');
});

test('regression: at 80 columns (and narrower) the progress line keeps every count; parts go in the stated order', () => {
  const p = { elapsedMs: 65_000, durationMs: 120_000, sent: 1_234_567, done: 1_234_000, inflight: 567, errors: 98_765, success: 1_135_235, rateAsked: 20_000 };
  const full = renderProgressLine(p);
  assert.ok(full.length > 80, full);
  const widths = [200, 100, 80, 72, 60, 50, 40, 30];
  const lines = widths.map((w) => renderProgressLine(p, w));
  for (const [i, line] of lines.entries()) {
    assert.ok(line.length <= widths[i]! || line === lines[lines.length - 1], `${widths[i]}: ${line}`);
    for (const count of ['1234567', '1135235', '98765']) assert.ok(line.includes(count), `${widths[i]} columns lost ${count}: ${line}`);
  }
  assert.match(lines[2]!, /ok 1135235 {2}errors 98765$/);
  assert.equal(lines[7], '65.0/120.0s sent 1234567 ok 1135235 err 98765');
});
