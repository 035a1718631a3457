/** Load from several machines: --start-at, --rate-share, the results header, report's merge. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { test } from 'node:test';
import hdr from 'hdr-histogram-js';
import {
  createConstantPacer,
  createSharePacer,
  decodeHeader,
  decodeResult,
  runLoad,
  type LoadResult,
  type ResultsHeader,
} from '../../src/load/index.js';
import { waitFor, createTempDir } from '../../src/util/index.js';
import { runCli, startCli } from '../../src/testing/index.js';
import { startServer } from './servers.js';

test('rate shares: n interleaved parts of a schedule are the schedule, for any rate, duration and n', () => {
  for (const [rate, durationMs] of [
    [600, 2000],
    [7, 500],
    [1000, 1234],
    [3, 1000],
    [5000, 10_000],
  ] as const) {
    const whole = createConstantPacer(rate);
    const total = whole.countWithin(durationMs);
    for (const n of [1, 2, 3, 7]) {
      const dues: number[] = [];
      const seqs: number[] = [];
      for (let index = 1; index <= n; index++) {
        const part = createSharePacer(rate, { index, count: n });
        for (let i = 0; i < part.countWithin(durationMs); i++) {
          dues.push(part.dueMs(i));
          seqs.push(part.seqOf(i));
        }
      }
      assert.equal(dues.length, total, `${rate}/s × ${durationMs} ms in ${n} parts`);
      seqs.sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        Array.from({ length: total }, (_, i) => i),
      );
      dues.sort((a, b) => a - b);
      dues.forEach((d, i) => assert.ok(Math.abs(d - whole.dueMs(i)) < 1e-9));
    }
  }
});

interface ResultFile {
  header: ResultsHeader | undefined;
  results: LoadResult[];
}

function readResultFile(path: string): ResultFile {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  return {
    header: decodeHeader(lines[0]!),
    results: lines.map(decodeResult).filter((r): r is LoadResult => r !== undefined),
  };
}

interface Json {
  requests: number;
  rate: { asked: number; achieved: number };
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  latenciesMs: Record<'min' | 'p50' | 'p90' | 'p95' | 'p99' | 'max', number>;
  timeline: { tMs: number; sent: number }[];
  files?: number;
  sources?: { hosts: string[]; aligned: string; startedAt: string | null };
}

test('three load processes with one --start-at and a third of the rate each merge into what one process at the summed rate sends', {
  timeout: 60_000,
}, async () => {
  const server = await startServer((_req, res) => res.end('ok'));
  await using dir = await createTempDir('load-many');
  try {
    const rate = 600;
    // Ahead by 4-5 s: time for three CLIs to start on a busy machine.
    const startAtMs = Math.ceil((Date.now() + 4000) / 1000) * 1000 + 250;
    // The same instant written three ways: RFC 3339 in UTC, with an offset, and unix seconds.
    const offset = new Date(startAtMs + 3_600_000).toISOString().replace('Z', '+01:00');
    const times = [new Date(startAtMs).toISOString(), offset, (startAtMs / 1000).toFixed(3)];
    const runs = await Promise.all(
      times.map((at, i) =>
        runCli(
          [
            'load',
            server.url,
            '--rate',
            String(rate),
            '--rate-share',
            `${i + 1}/3`,
            '--start-at',
            at,
            '--duration',
            '2s',
            '--output',
            dir.file(`m${i + 1}.ndjson`),
            '--json',
          ],
          { timeoutMs: 30_000 },
        ),
      ),
    );
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as Json;
      assert.equal(m.rate.asked, rate / 3);
      assert.equal(m.requests, 400);
    }
    const files = [1, 2, 3].map((i) => readResultFile(dir.file(`m${i}.ndjson`)));
    files.forEach((f, i) => {
      assert.deepEqual(
        { ...f.header, pid: 0 },
        {
          type: 'header',
          schema: 'badgateway.load.results/v1',
          host: hostname(),
          pid: 0,
          startedAt: new Date(startAtMs).toISOString(),
          startedAtMs: startAtMs,
          coordinated: true,
          rate: rate / 3,
          rateTotal: rate,
          rateShare: `${i + 1}/3`,
          durationMs: 2000,
        },
      );
      // Each waited for the start: nothing sent before it (a negative sentMs), the first soon after.
      const firstSent = Math.min(...f.results.map((r) => r.sentMs));
      assert.ok(
        firstSent >= 0 && firstSent < 1000,
        `file ${i + 1}: first request sent ${firstSent} ms after the start`,
      );
    });

    const single = await runCli(
      ['load', server.url, '--rate', String(rate), '--duration', '2s', '--output', dir.file('one.ndjson'), '--json'],
      { timeoutMs: 30_000 },
    );
    assert.equal(single.code, 0, single.stderr);
    const one = JSON.parse(single.stdout) as Json;
    const report = await runCli(['report', ...[1, 2, 3].map((i) => dir.file(`m${i}.ndjson`)), '--json']);
    assert.equal(report.code, 0, report.stderr);
    const merged = JSON.parse(report.stdout) as Json;

    // Counts exact.
    assert.equal(merged.requests, one.requests);
    assert.equal(merged.requests, 1200);
    assert.deepEqual(merged.statusCodes, one.statusCodes);
    assert.deepEqual(merged.errors, {});
    // Rate: the sum asked, achieved within 1 % of it and of the single process.
    assert.equal(merged.rate.asked, rate);
    assert.ok(Math.abs(merged.rate.achieved - rate) / rate <= 0.01, `achieved ${merged.rate.achieved}`);
    assert.ok(
      Math.abs(merged.rate.achieved - one.rate.achieved) / one.rate.achieved <= 0.01,
      `merged ${merged.rate.achieved}, single ${one.rate.achieved}`,
    );
    // One timeline from the agreed instant: the merged schedule is the single process's, due time for due time.
    assert.deepEqual(merged.sources, {
      hosts: [hostname()],
      aligned: 'wall-clock',
      startedAt: new Date(startAtMs).toISOString(),
    });
    // (Buckets count requests by when they were sent: a late one may land in the next bucket.)
    assert.equal(merged.timeline[0]?.tMs, 0);
    assert.equal(
      merged.timeline.reduce((s, b) => s + b.sent, 0),
      1200,
    );
    const mergedDues = files.flatMap((f) => f.results.map((r) => r.dueMs)).sort((a, b) => a - b);
    const singleDues = readResultFile(dir.file('one.ndjson'))
      .results.map((r) => r.dueMs)
      .sort((a, b) => a - b);
    assert.deepEqual(mergedDues, singleDues);
    assert.deepEqual(
      files.flatMap((f) => f.results.map((r) => r.seq)).sort((a, b) => a - b),
      Array.from({ length: 1200 }, (_, i) => i),
    );

    // Percentiles are those of one HDR histogram holding every request: the files' histograms
    // added together, never an average of their percentiles.
    const histogram = () =>
      hdr.build({
        bitBucketSize: 32,
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
    const total = histogram();
    for (const f of files) {
      const h = histogram();
      for (const r of f.results) h.recordValue(Math.min(3_600_000_000, Math.max(1, Math.round(r.latencyMs * 1000))));
      total.add(h);
    }
    for (const p of [50, 90, 95, 99] as const)
      assert.equal(merged.latenciesMs[`p${p}`], Math.round(total.getValueAtPercentile(p)) / 1000, `p${p}`);
    assert.equal(merged.latenciesMs.max, Math.max(...files.flatMap((f) => f.results.map((r) => r.latencyMs))));

    const text = await runCli(['report', ...[1, 2, 3].map((i) => dir.file(`m${i}.ndjson`))]);
    assert.match(
      text.stdout,
      new RegExp(
        `^Sources\\s+\\[files, hosts, timeline\\]\\s+3, ${hostname()}, start ${new Date(startAtMs).toISOString().replace(/\./g, '\\.')} \\(wall clock\\)$`,
        'm',
      ),
    );
  } finally {
    await server.close();
  }
});

test('--start-at: over 1 s in the past or 24 h ahead, a millisecond epoch, a bad --rate-share: one line, exit 2', {
  timeout: 30_000,
}, async () => {
  const now = Date.now();
  const cases: [string[], RegExp][] = [
    [
      ['--start-at', new Date(now - 5000).toISOString()],
      /--start-at \S+ is (?:[5-9]|\d\d)\.\d{3} s in the past by this machine's clock \(\S+\)/,
    ],
    [['--start-at', String(Math.floor(now / 1000) - 60)], /is (?:[6-9]\d|\d{3})\.\d{3} s in the past/],
    [
      ['--start-at', new Date(now + 25 * 3_600_000).toISOString()],
      /is 2[45]\.\d h ahead of this machine's clock .*at most 24 h/,
    ],
    [['--start-at', String(now)], /looks like milliseconds/],
    [['--start-at', 'tomorrow'], /--start-at: "tomorrow" is not valid \(expected an RFC 3339 time/],
    [['--start-at', '2026-11-30T22:30:00'], /expected an RFC 3339 time with its offset/],
    [['--rate-share', '0/3'], /rateShare: "0\/3" is not valid/],
    [['--rate-share', '4/3'], /rateShare: "4\/3" is not valid/],
    [['--rate-share', 'half'], /--rate-share: "half" is not valid/],
    [['--rate', '0', '--rate-share', '1/2'], /an open-loop run/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(['load', 'http://127.0.0.1:9/', ...args])));
  results.forEach((r, i) => {
    const [args, message] = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
    assert.equal(r.stdout, '');
  });
});

test('--start-at less than a second ago starts at once on the agreed schedule; Ctrl-C while waiting sends nothing (exit 130)', {
  timeout: 30_000,
}, async () => {
  const server = await startServer((_req, res) => res.end('ok'));
  await using dir = await createTempDir('load-many');
  try {
    // In-process (runLoad): a CLI's start-up time on a busy machine would add to the 400 ms.
    const startAtMs = Date.now() - 400;
    const m = await runLoad({
      url: server.url,
      rate: 100,
      durationMs: 1000,
      startAtMs,
      resultsPath: dir.file('late.ndjson'),
    });
    assert.equal(m.requests, 100);
    assert.equal(m.startedAt, new Date(startAtMs).toISOString());
    const late = readResultFile(dir.file('late.ndjson'));
    assert.equal(late.header?.startedAtMs, startAtMs);
    // The requests due before the run began were sent late, and say so.
    assert.ok(
      late.results[0]!.sentMs - late.results[0]!.dueMs >= 300,
      `first request ${late.results[0]!.sentMs} ms after its due time`,
    );

    const before = server.requests;
    const waiting = startCli([
      'load',
      server.url,
      '--rate',
      '100',
      '--duration',
      '1s',
      '--start-at',
      new Date(Date.now() + 20_000).toISOString(),
    ]);
    // Interrupted while it waits (it says so on stderr), not while node is still starting.
    await waitFor('load to wait for its start', () => waiting.stderr.includes('badgateway load: starting at '), {
      timeoutMs: 15_000,
    });
    const stopped = await waiting.stop('SIGINT');
    assert.equal(stopped.code, 130, waiting.stderr);
    assert.match(waiting.stdout, /^Requests\s+\[total, rate, throughput\]\s+0, /m);
    assert.equal(server.requests, before);
  } finally {
    await server.close();
  }
});

test('report on hostile files: a header out of range or in the middle is skipped, a record a century late does not grow the timeline', {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('load-many');
  const { writeFile } = await import('node:fs/promises');
  const header = (startedAtMs: number): string =>
    JSON.stringify({
      type: 'header',
      schema: 'badgateway.load.results/v1',
      host: 'x'.repeat(10_000),
      startedAtMs,
      coordinated: true,
      rate: 1,
    });
  await writeFile(
    dir.file('a.ndjson'),
    [
      header(1e300),
      '{"seq":0,"dueMs":0,"sentMs":3e15,"latencyMs":1,"status":200}',
      header(0),
      '{"seq":1,"dueMs":5,"sentMs":5,"latencyMs":2,"status":200}',
      '',
    ].join('\n'),
  );
  // Two coordinated files 30 years apart are separate runs: overlaid, not a 30-year timeline.
  await writeFile(
    dir.file('b.ndjson'),
    [header(1e12), '{"seq":0,"dueMs":0,"sentMs":1,"latencyMs":1,"status":200}', ''].join('\n'),
  );
  await writeFile(
    dir.file('c.ndjson'),
    [header(1.95e12), '{"seq":0,"dueMs":0,"sentMs":1,"latencyMs":1,"status":200}', ''].join('\n'),
  );
  const started = Date.now();
  const r = await runCli(['report', dir.file('a.ndjson'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Json & { skippedLines: number };
  assert.equal(m.requests, 2);
  assert.equal(m.skippedLines, 2);
  assert.ok(m.timeline.length <= 1, `${m.timeline.length} buckets`);
  const far = JSON.parse(
    (await runCli(['report', dir.file('b.ndjson'), dir.file('c.ndjson'), '--json'])).stdout,
  ) as Json;
  assert.equal(far.sources?.aligned, 'own-start');
  assert.equal(far.timeline.length, 1);
  assert.equal(far.sources?.hosts[0]?.length, 255, 'host names are cut');
  assert.ok(Date.now() - started < 10_000);
});
