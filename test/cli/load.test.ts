import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createTempDir, waitFor } from '../../src/util/index.js';
import { renderProgressLine } from '../../src/report/index.js';
import { BIN, runCli, runCommand, startCli } from '../../src/testing/index.js';
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
    [
      ['load', 'http://localhost/', '--unix-socket', dir.file('none.sock')],
      /--unix-socket: .*none\.sock does not exist/,
    ],
    [['load', 'http://localhost/', '--unix-socket', dir.file('bad-targets.txt')], /is not a socket\n$/],
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

test('load prints a vegeta-style report; report merges two result files into the totals of both', {
  timeout: 30_000,
}, async () => {
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
    const bJson = JSON.parse(b.stdout) as {
      requests: number;
      statusCodes: Record<string, number>;
      timeline: unknown[];
    };
    assert.equal(bJson.requests, 30);
    assert.equal(aCount('200') + aCount('502'), 50);
    assert.equal((bJson.statusCodes['200'] ?? 0) + (bJson.statusCodes['502'] ?? 0), 30);
    // The server alternates by its own counter across both runs: 80 requests, 20 of them 502.
    assert.equal(aCount('502') + (bJson.statusCodes['502'] ?? 0), 20);

    const merged = await runCli(['report', dir.file('a.ndjson'), dir.file('b.ndjson'), '--json']);
    assert.equal(merged.code, 0, merged.stderr);
    const m = JSON.parse(merged.stdout) as {
      requests: number;
      statusCodes: Record<string, number>;
      bytesIn: number;
      files: number;
    };
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

test('load: failed requests are data (exit 0); --fail-on-errors makes them exit 1; --targets from a file', {
  timeout: 20_000,
}, async () => {
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
    const m = JSON.parse(targets.stdout) as {
      requests: number;
      bytesOut: number;
      bytesIn: number;
      statusCodes: Record<string, number>;
    };
    assert.equal(m.requests, 10);
    assert.deepEqual(m.statusCodes, { '200': 10 });
    assert.equal(m.bytesOut, 5 * 7);
    assert.equal(m.bytesIn, 5 * 'GET /a'.length + 5 * 'POST /b'.length);
  } finally {
    await dir.close();
    await server.close();
  }
});

test('load: Ctrl-C stops sending and still prints the report; no progress line when stderr is piped', {
  timeout: 20_000,
}, async () => {
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
  const line = renderProgressLine({
    elapsedMs: 5000,
    durationMs: 10_000,
    sent: 500,
    done: 490,
    inflight: 10,
    errors: 3,
    success: 487,
    rateAsked: 100,
  });
  assert.equal(
    line,
    '████████████░░░░░░░░░░░░ 5.0/10.0s  sent 500  100 req/s (asked 100)  in flight 10  ok 487  errors 3',
  );
});

test('regression: at 80 columns (and narrower) the progress line keeps every count; parts go in the stated order', () => {
  const p = {
    elapsedMs: 65_000,
    durationMs: 120_000,
    sent: 1_234_567,
    done: 1_234_000,
    inflight: 567,
    errors: 98_765,
    success: 1_135_235,
    rateAsked: 20_000,
  };
  const full = renderProgressLine(p);
  assert.ok(full.length > 80, full);
  const widths = [200, 100, 80, 72, 60, 50, 40, 30];
  const lines = widths.map((w) => renderProgressLine(p, w));
  for (const [i, line] of lines.entries()) {
    assert.ok(line.length <= widths[i]! || line === lines[lines.length - 1], `${widths[i]}: ${line}`);
    for (const count of ['1234567', '1135235', '98765'])
      assert.ok(line.includes(count), `${widths[i]} columns lost ${count}: ${line}`);
  }
  assert.match(lines[2]!, /ok 1135235 {2}errors 98765$/);
  assert.equal(lines[7], '65.0/120.0s sent 1234567 ok 1135235 err 98765');
});

test("vegeta's pipe: load --output - writes NDJSON to stdout (its report to stderr) and report - reads stdin; .gz output is gzip", {
  timeout: 30_000,
}, async () => {
  const server = await startServer((_req, res, n) => {
    res.statusCode = n % 5 === 0 ? 503 : 200;
    res.end('ok');
  });
  const dir = await createTempDir('load');
  try {
    const node = JSON.stringify(process.execPath);
    const bin = JSON.stringify(BIN);
    const piped = await runCommand('/bin/sh', [
      '-c',
      `${node} ${bin} load ${server.url} -r 100 -d 500ms --output - | ${node} ${bin} report - --json`,
    ]);
    assert.equal(piped.code, 0, piped.stderr);
    const summary = JSON.parse(piped.stdout) as {
      schema: string;
      requests: number;
      statusCodes: Record<string, number>;
      files: number;
      sources: { hosts: string[] };
    };
    assert.equal(summary.schema, 'badgateway.load/v1');
    assert.equal(summary.requests, 50);
    assert.deepEqual(summary.statusCodes, { '200': 40, '503': 10 });
    assert.equal(summary.files, 1);
    assert.equal(summary.sources.hosts.length, 1, 'the header line came through the pipe');
    // The people's report of `load` went to stderr, not into the pipe.
    assert.match(piped.stderr, /^Requests\s+\[total, rate, throughput\]\s+50, /m);

    const gz = dir.file('run.ndjson.gz');
    const r = await runCli(['load', server.url, '-r', '100', '-d', '300ms', '--output', gz]);
    assert.equal(r.code, 0, r.stderr);
    const bytes = readFileSync(gz);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    const lines = gunzipSync(bytes).toString('utf8').trim().split('\n');
    assert.equal(lines.length, 31);
    assert.equal((JSON.parse(lines[0]!) as { type: string }).type, 'header');
    const report = await runCli(['report', gz]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^Requests\s+\[total, rate, throughput\]\s+30, /m);
    // A gzip file on stdin too, and an HTML page of the same run.
    const html = dir.file('run.html');
    const fromStdin = await runCommand('/bin/sh', [
      '-c',
      `${node} ${bin} report - --html ${JSON.stringify(html)} < ${JSON.stringify(gz)}`,
    ]);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, report.stdout);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<h1>badgateway report stdin<\/h1>/);
    assert.match(page, /"title":"Requests\/s by status \(client view\)"/);
    assert.match(page, /"title":"Latency from due time \(ms\)"/);
  } finally {
    await dir.close();
    await server.close();
  }
});

test('report: a file with no result record, or an empty one, is exit 2 naming it (not an all-zero report)', {
  timeout: 20_000,
}, async () => {
  const dir = await createTempDir('load');
  try {
    writeFileSync(dir.file('empty.ndjson'), '');
    writeFileSync(dir.file('foreign.ndjson'), '{"hello":1}\n{"world":2}\n');
    writeFileSync(
      dir.file('header-only.ndjson'),
      '{"type":"header","schema":"badgateway.load.results/v1","host":"h","pid":1,"startedAt":"2026-11-30T22:36:19.000Z","startedAtMs":1796078179000,"coordinated":false,"rate":10,"rateTotal":10,"rateShare":null,"durationMs":1000}\n',
    );
    const cases: [string[], string, string?][] = [
      [
        ['report', dir.file('empty.ndjson')],
        `badgateway: ${dir.file('empty.ndjson')} is empty (expected NDJSON from \`badgateway load --output\`)`,
      ],
      [
        ['report', dir.file('foreign.ndjson')],
        `badgateway: ${dir.file('foreign.ndjson')} has no result record in its 2 lines (expected NDJSON from \`badgateway load --output\`)`,
      ],
      [
        ['report', dir.file('header-only.ndjson')],
        `badgateway: ${dir.file('header-only.ndjson')} has no result record in its 1 line (expected NDJSON from \`badgateway load --output\`)`,
      ],
      [['report', '-'], 'badgateway: standard input is empty (expected NDJSON from `badgateway load --output`)', ''],
      [['report', '-', '-'], 'badgateway: standard input (-) can be read only once'],
    ];
    const results = await Promise.all(
      cases.map(([args, , input]) => runCli(args, input === undefined ? {} : { input })),
    );
    results.forEach((r, i) => {
      const [args, line] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(r.stderr, `${line}\n`, args.join(' '));
    });
  } finally {
    await dir.close();
  }
});
