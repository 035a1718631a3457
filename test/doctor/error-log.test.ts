import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { classifyProxyLogLine, createProxyLogClassifier, PROXY_LOG_PATTERNS } from '../../src/causes/index.js';
import { ErrorLogAggregator, normalizeUpstream, summarizeErrorLogs } from '../../src/doctor/index.js';
import { createTempDir } from '../../src/util/index.js';

const FIXTURE = new URL('../../../test/doctor/fixtures/nginx-error.log', import.meta.url).pathname;

test('real nginx 1.22.1 error log: counts per pattern, status, level, upstream', { timeout: 10_000 }, async () => {
  const s = await summarizeErrorLogs([FIXTURE]);
  const table = Object.fromEntries(
    s.patterns.map((p) => [
      p.id,
      [p.count, p.status, p.level, p.upstreams.map((u) => `${u.name}=${u.count}`).join(' ')],
    ]),
  );
  assert.deepEqual(table, {
    'read-timeout': [28, 504, 'error', '127.0.0.1:18081=24 127.0.0.1:18083=2 unix:/tmp/rec/full.sock=2'],
    'proxy-emfile-upstream': [21, 500, 'alert', '127.0.0.1:18081=21'],
    'worker-connections': [21, null, 'alert', '(none)=21'],
    'connect-refused': [7, 502, 'error', '127.0.0.1:1=6 127.0.0.1:2=1'],
    'connect-eagain': [4, 502, 'error', 'unix:/tmp/rec/full.sock=4'],
    'connect-timeout': [4, 504, 'error', '127.0.0.1:18083=4'],
    'no-live-upstreams': [3, 502, 'error', 'grp=3'],
    'recv-reset': [3, 502, 'error', '127.0.0.1:18081=3'],
    'proxy-emfile': [2, null, 'crit', '(none)=2'],
    'body-premature-close': [1, null, 'error', '127.0.0.1:18081=1'],
    'connect-eacces': [1, 502, 'crit', 'unix:/tmp/rec/priv/app.sock=1'],
    'connect-enoent': [1, 502, 'crit', 'unix:/tmp/rec/nonexistent.sock=1'],
    'premature-close': [1, 502, 'error', '127.0.0.1:18081=1'],
    'send-failed': [1, 502, 'error', '127.0.0.1:18081=1'],
    'too-big-header': [1, 502, 'error', '127.0.0.1:18081=1'],
  });
  assert.deepEqual(s.lines, {
    total: 114,
    nginx: 114,
    upstreamErrors: 99,
    unknownUpstream: 0,
    notNginx: 0,
    truncated: 0,
    proxy: 114,
    notProxy: 0,
  });
  assert.deepEqual(s.statuses, { '502': 22, '503': 0, '504': 32, '500': 21, none: 24 });
  const eagain = s.patterns.find((p) => p.id === 'connect-eagain')!;
  assert.equal(eagain.firstSeen, '2026/11/26 07:50:45');
  assert.equal(eagain.lastSeen, '2026/11/26 07:50:45');
  assert.match(
    eagain.example,
    /^2026\/11\/26 07:50:45 \[error\] 13045#13045: \*30 connect\(\) to unix:\/tmp\/rec\/full.sock failed \(11: Resource temporarily unavailable\)/,
  );
  // Every recorded level is the level the catalogue says the pattern is written at.
  for (const p of s.patterns) assert.equal(p.level, PROXY_LOG_PATTERNS.find((x) => x.id === p.id)?.level, p.id);
  assert.deepEqual(s.timeline, [
    { bucket: '2026-11-26T07:50:00', s502: 13, s504: 23, errors: 58 },
    { bucket: '2026-11-26T07:51:00', s502: 9, s504: 9, errors: 41 },
  ]);
});

test('rotated parts (plain + gzip, any order) add up to the whole log; first/last seen span both', {
  timeout: 10_000,
}, async () => {
  const dir = await createTempDir('doctor');
  try {
    const lines = (await readFile(FIXTURE, 'utf8')).split('\n');
    await writeFile(dir.file('error.log'), lines.slice(60).join('\n'));
    await writeFile(dir.file('error.log.1.gz'), gzipSync(`${lines.slice(0, 60).join('\n')}\n`));
    const whole = await summarizeErrorLogs([FIXTURE]);
    const parts = await summarizeErrorLogs([dir.file('error.log'), dir.file('error.log.1.gz')]);
    assert.deepEqual(
      parts.patterns,
      whole.patterns.map((p) => ({ ...p, example: parts.patterns.find((q) => q.id === p.id)!.example })),
    );
    assert.deepEqual(parts.lines, whole.lines);
    assert.deepEqual(
      parts.files.map((f) => [f.gzip, f.lines]),
      [
        [false, 54],
        [true, 60],
      ],
    );
  } finally {
    await dir.close();
  }
});

test('the fast classifier answers exactly like classifyProxyLogLine (real lines, examples, mutations)', () => {
  return readFile(FIXTURE, 'utf8').then((text) => {
    const fast = createProxyLogClassifier({ cacheSize: 8 });
    const lines = [...text.split('\n'), ...PROXY_LOG_PATTERNS.map((p) => p.example)];
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const variants = lines.flatMap((l) => [
      l,
      `${l}\r`,
      l.slice(0, rand(l.length + 1)),
      l.replace('[error]', '[warn]'),
      l.replace(/\*\d+ /, ''),
      l.replace('upstream', 'upstrea\u2028m'),
    ]);
    for (const line of variants) {
      const slow = classifyProxyLogLine(line);
      const quick = fast.classify(line);
      const expected = slow && {
        patternId: slow.patternId,
        causes: slow.causes,
        status: slow.status,
        level: slow.level,
        time: slow.time,
        upstream: slow.upstream,
      };
      assert.deepEqual(quick, expected, JSON.stringify(line));
    }
  });
});

test('normalizeUpstream: host:port, unix sockets in both spellings nginx uses, upstream groups', () => {
  const table: [string, string][] = [
    ['http://127.0.0.1:8080/slow?ms=5', '127.0.0.1:8080'],
    ['http://[::1]:8080/', '[::1]:8080'],
    ['http://unix:/run/gunicorn.socket:/', 'unix:/run/gunicorn.socket'],
    ['http://unix:/tmp/rec/full.sock/', 'unix:/tmp/rec/full.sock'],
    ['http://unix:/tmp/app.sock/api/x', 'unix:/tmp/app.sock'],
    ['http://backend/', 'backend'],
    ['https://10.0.0.1:443/', '10.0.0.1:443'],
  ];
  for (const [raw, name] of table) assert.equal(normalizeUpstream(raw), name, raw);
});

test('unknown upstream errors are counted, never dropped; warn-level upstream notes are no errors', () => {
  const a = new ErrorLogAggregator();
  a.add(
    '2026/11/26 08:12:01 [error] 1#1: *3 upstream sent invalid chunked response while reading upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "x"',
  );
  a.add(
    '2026/11/26 08:12:02 [warn] 1#1: *4 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 127.0.0.1, server: _, request: "GET /big HTTP/1.1", upstream: "http://127.0.0.1:1/big", host: "x"',
  );
  a.add('2026/11/26 08:12:03 [notice] 1#1: start worker process 2');
  a.add('Traceback (most recent call last):');
  const s = a.summary();
  assert.deepEqual(s.lines, {
    total: 4,
    nginx: 3,
    upstreamErrors: 1,
    unknownUpstream: 1,
    notNginx: 1,
    truncated: 0,
    proxy: 3,
    notProxy: 1,
  });
  assert.deepEqual(
    s.patterns.map((p) => [p.id, p.count, p.status]),
    [['unknown-upstream-error', 1, null]],
  );
});

test('fuzz: random bytes, truncated real lines and 5 MB lines: no crash, lines capped, memory bounded', {
  timeout: 30_000,
}, async () => {
  const real = (await readFile(FIXTURE, 'utf8')).split('\n');
  let seed = 1234;
  const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const chunks: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const kind = rand(4);
    if (kind === 0) chunks.push(Buffer.from(Array.from({ length: rand(300) }, () => rand(256))));
    else if (kind === 1) chunks.push(Buffer.from(`${real[rand(real.length)]!.slice(0, rand(300))}\n`));
    else chunks.push(Buffer.from(`${real[rand(real.length)]}\n`));
  }
  // Two 5 MB lines, one of them starting like an upstream error.
  const huge = Buffer.alloc(5 * 1024 * 1024, 0x41);
  chunks.splice(100, 0, Buffer.from(real[0]!.slice(0, 120)), huge, Buffer.from('\n'));
  chunks.splice(2000, 0, huge, Buffer.from('\n'));
  const before = process.memoryUsage().heapUsed;
  let longest = 0;
  let peak = 0;
  const aggregator = new ErrorLogAggregator();
  const { readLines } = await import('../../src/doctor/index.js');
  const r = await readLines(
    '-',
    (line, truncated) => {
      longest = Math.max(longest, line.length);
      aggregator.add(line, truncated);
      peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    },
    { maxLineChars: 16 * 1024, chunkBytes: 64 * 1024, stdin: Readable.from(chunks) },
  );
  const s = aggregator.summary();
  assert.equal(longest, 16 * 1024);
  assert.ok(r.truncated >= 2, `truncated ${r.truncated}`);
  assert.equal(s.lines.truncated, r.truncated);
  assert.equal(s.lines.total, r.lines);
  assert.ok(s.lines.upstreamErrors > 0);
  // The huge lines never sit whole in memory; 64 KiB chunks plus the summary stay far below 5 MB each.
  assert.ok(peak < 40 * 1024 * 1024, `heap grew by ${peak} bytes`);
});

test('worker threads over byte ranges give exactly the sequential summary (ranges cut lines anywhere)', {
  timeout: 20_000,
}, async () => {
  const sequential = await summarizeErrorLogs([FIXTURE], { workers: 1 });
  for (const workers of [2, 3, 7]) {
    const parallel = await summarizeErrorLogs([FIXTURE], { workers, parallelMinBytes: 1, chunkBytes: 1000 });
    assert.deepEqual(parallel, sequential, `${workers} workers`);
  }
});

test('lines out of time order in one file (merged or hand-edited logs): first/last seen and buckets go by time, not position', () => {
  const line = (time: string, port: number): string =>
    `${time} [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:${port}/", host: "x"`;
  const aggregator = new ErrorLogAggregator();
  for (const [time, port] of [
    ['2026/11/26 10:00:30', 1],
    ['2026/11/26 09:59:59', 2],
    ['2026/11/26 10:00:30', 1],
    ['2026/12/01 00:00:00', 1],
    ['2025/01/31 23:59:59', 2],
    ['2026/11/26 10:00:31', 1],
  ] as const)
    aggregator.add(line(time, port));
  const s = aggregator.summary();
  assert.deepEqual(
    s.patterns.map((p) => [
      p.id,
      p.count,
      p.firstSeen,
      p.lastSeen,
      p.upstreams.map((u) => `${u.name}=${u.count}`).join(' '),
    ]),
    [['connect-refused', 6, '2025/01/31 23:59:59', '2026/12/01 00:00:00', '127.0.0.1:1=4 127.0.0.1:2=2']],
  );
  assert.deepEqual(s.timeline, [
    { bucket: '2025-01-31T23:59:00', s502: 1, s504: 0, errors: 1 },
    { bucket: '2026-11-26T09:59:00', s502: 1, s504: 0, errors: 1 },
    { bucket: '2026-11-26T10:00:00', s502: 3, s504: 0, errors: 3 },
    { bucket: '2026-12-01T00:00:00', s502: 1, s504: 0, errors: 1 },
  ]);
});
