import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyError, createMetrics, type LoadResult } from '../../src/load/index.js';
import { renderLoadText } from '../../src/report/index.js';

const result = (seq: number, over: Partial<LoadResult> = {}): LoadResult => ({
  seq,
  dueMs: seq * 10,
  sentMs: seq * 10,
  latencyMs: 1,
  status: 200,
  bytesIn: 2,
  bytesOut: 0,
  error: '',
  ...over,
});

/** HDR histograms keep 3 significant digits (timeline buckets 2): percentiles are that close. */
function near(actual: number, expected: number, tolerance = 0.001): void {
  assert.ok(
    Math.abs(actual - expected) <= expected * tolerance,
    `${actual} is not within ${tolerance * 100}% of ${expected}`,
  );
}

test('metrics: exact counts, percentiles, rate, duration and timeline buckets', () => {
  const m = createMetrics({ bucketMs: 500 });
  // 100 requests at 100/s; latency = seq + 1 ms (1 … 100 ms); the last 10 failed; two sent 2 ms late.
  for (let i = 0; i < 100; i++) {
    m.add(
      result(i, {
        latencyMs: i + 1,
        sentMs: i * 10 + (i === 5 || i === 6 ? 2 : 0),
        ...(i >= 90 ? { status: 0, bytesIn: 0, error: 'ECONNRESET' } : i % 2 === 0 ? {} : { status: 503 }),
      }),
    );
  }
  const out = m.close({ rateAsked: 100 });
  assert.equal(out.requests, 100);
  assert.deepEqual(out.statusCodes, { '200': 45, '503': 45 });
  assert.deepEqual(out.errors, { ECONNRESET: 10 });
  assert.equal(out.success, 45);
  assert.equal(out.successRatio, 0.45);
  assert.equal(out.bytesIn, 180);
  assert.deepEqual(out.rate, { asked: 100, achieved: 100 });
  assert.equal(out.attackMs, 1000);
  assert.equal(out.waitMs, 100); // last sent at 990, done at 990 + 100
  assert.equal(out.durationMs, 1100);
  assert.equal(out.latenciesMs.min, 1);
  assert.equal(out.latenciesMs.max, 100);
  assert.equal(out.latenciesMs.mean, 50.5);
  near(out.latenciesMs.p50, 50);
  near(out.latenciesMs.p90, 90);
  near(out.latenciesMs.p99, 99);
  assert.equal(out.sendLagMs.max, 2);
  assert.equal(out.serviceLatenciesMs.min, 1);
  assert.equal(out.timeline.length, 2);
  assert.deepEqual(
    out.timeline.map((b) => [b.tMs, b.sent, b.statusCodes, b.errors]),
    [
      [0, 50, { '200': 25, '503': 25 }, {}],
      [500, 50, { '200': 20, '503': 20 }, { ECONNRESET: 10 }],
    ],
  );
  near(out.timeline[0]!.p50, 25, 0.01);
  // Read back without the asked rate, it is inferred from the due times.
  const again = createMetrics();
  for (let i = 0; i < 100; i++) again.add(result(i));
  assert.equal(again.close().rate.asked, 100);
});

test('empty metrics are zeros, not NaN', () => {
  const out = createMetrics().close();
  assert.equal(out.requests, 0);
  assert.equal(out.rate.achieved, 0);
  assert.equal(out.latenciesMs.p99, 0);
  assert.deepEqual(out.timeline, []);
  assert.match(renderLoadText(out), /^Requests\s+\[total, rate, throughput\]\s+0, -, 0\.00$/m);
});

test('regression: percentiles never read above the max or below the min (the histogram rounds up to its bucket)', () => {
  const m = createMetrics({ bucketMs: 1000 });
  // 4.753 ms falls in a histogram bucket whose top is above it.
  for (const [i, latencyMs] of [4.753, 4.751, 0.1234].entries()) m.add(result(i, { latencyMs }));
  const out = m.close();
  assert.equal(out.latenciesMs.max, 4.753);
  assert.equal(out.latenciesMs.p99, 4.753);
  assert.equal(out.latenciesMs.p95, 4.753);
  assert.equal(out.latenciesMs.min, 0.123);
  for (const b of out.timeline) assert.ok(b.p99 <= 4.753 && b.p50 >= 0.123, JSON.stringify(b));
  // The send lag too (15.897 ms read back as p99 15.903 ms).
  const lagged = createMetrics();
  lagged.add(result(0, { sentMs: 15.897, latencyMs: 16.155 }));
  const lag = lagged.close().sendLagMs;
  assert.deepEqual(lag, { mean: 15.897, p99: 15.897, max: 15.897 });
  const one = createMetrics();
  one.add(result(0, { latencyMs: 0.0004 }));
  const single = one.close();
  assert.deepEqual(
    [single.latenciesMs.min, single.latenciesMs.p50, single.latenciesMs.p99, single.latenciesMs.max],
    [0, 0, 0, 0],
  );
});

test('regression: one request (0.5/s for 1 s) has no measurable rate: "-" and no false "fell behind" warning', () => {
  const m = createMetrics();
  m.add(result(0, { latencyMs: 1 }));
  const text = renderLoadText({ ...m.close({ rateAsked: 0.5 }), unsent: 0, interrupted: false });
  assert.match(text, /^Requests\s+\[total, rate, throughput\]\s+1, -, /m);
  assert.match(text, /^Rate\s+\[asked, achieved\]\s+0\.50, -$/m);
  assert.doesNotMatch(text, /Warning/);
  // A request due and never sent is still said.
  assert.match(
    renderLoadText({ ...m.close({ rateAsked: 0.5 }), unsent: 1, interrupted: false }),
    /^Warning: the load generator fell behind/m,
  );
});

test('the text report is vegeta-shaped and says when the generator fell behind', () => {
  const m = createMetrics();
  for (let i = 0; i < 10; i++)
    m.add(result(i, i === 3 ? { status: 0, error: 'EAGAIN', latencyMs: 0.05 } : { latencyMs: 1500 }));
  const text = renderLoadText({ ...m.close({ rateAsked: 200 }), unsent: 5, interrupted: false });
  assert.match(text, /^Requests\s+\[total, rate, throughput\]\s+10, 100\.00, /m);
  assert.match(text, /^Rate\s+\[asked, achieved\]\s+200\.00, 100\.00$/m);
  assert.match(text, /^Latencies\s+\[min, mean, 50, 90, 95, 99, max\]\s+50µs, 1\.35s, 1\.5s, /m);
  assert.match(text, /^Success\s+\[ratio\]\s+90\.00%$/m);
  assert.match(text, /^Status Codes\s+\[code:count\]\s+200:9$/m);
  assert.match(text, /^Error Set:\nEAGAIN: 1$/m);
  assert.match(
    text,
    /^Warning: the load generator fell behind: 100\.00 req\/s achieved of 200\.00 asked, 5 requests not sent/m,
  );
  const capped = renderLoadText({
    ...m.close({ rateAsked: 200 }),
    unsent: 0,
    interrupted: false,
    peakInflight: 11,
    connectionCap: 10,
  });
  assert.match(
    capped,
    /^Warning: all 10 connections were busy, requests queued for one: 100\.00 req\/s achieved of 200\.00 asked \(send lag up to 0µs\); raise --connections\.$/m,
  );
});

test('classifyError maps undici and Node errors to stable codes', () => {
  const err = (code: string, cause?: unknown): Error => Object.assign(new Error(code), { code, cause });
  const table: [unknown, string][] = [
    [err('ECONNREFUSED'), 'ECONNREFUSED'],
    [err('ECONNRESET'), 'ECONNRESET'],
    [err('EAGAIN'), 'EAGAIN'],
    [err('EPIPE'), 'EPIPE'],
    [err('ENOENT'), 'ENOENT'],
    [err('ETIMEDOUT'), 'ETIMEDOUT'],
    [err('UND_ERR_SOCKET'), 'CLOSED'],
    [err('UND_ERR_SOCKET', err('EPIPE')), 'EPIPE'],
    [err('UND_ERR_CONNECT_TIMEOUT'), 'CONNECT_TIMEOUT'],
    [err('UND_ERR_HEADERS_TIMEOUT'), 'TIMEOUT'],
    [err('UND_ERR_BODY_TIMEOUT'), 'TIMEOUT'],
    [err('UND_ERR_DESTROYED'), 'CANCELED'],
    [err('HPE_INVALID_CONSTANT'), 'BAD_RESPONSE'],
    [err('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), 'BAD_RESPONSE'],
    [Object.assign(new Error('t'), { name: 'TimeoutError' }), 'TIMEOUT'],
    [new Error('plain'), 'UNKNOWN'],
    ['a string', 'UNKNOWN'],
  ];
  for (const [input, code] of table)
    assert.equal(classifyError(input), code, String((input as Error).message ?? input));
});
