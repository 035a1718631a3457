import { createRequire } from 'node:module';
import type Hdr from 'hdr-histogram-js';
import type { LoadResult } from './result.js';

/** Latency summary in ms (µs precision). */
export interface LatencySummaryMs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** One timeline bucket: requests *sent* within `[tMs, tMs + bucketMs)` and how they ended. */
export interface TimelineBucket {
  /** Start of the bucket in ms from the start of the run. */
  tMs: number;
  sent: number;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  /** Corrected latency percentiles of those requests, ms. */
  p50: number;
  p99: number;
}

/** Aggregate of a run: plain JSON, what reporters render and `runLoad` returns. */
export interface LoadMetrics {
  requests: number;
  rate: {
    /** Asked rate in req/s (0 = closed loop; inferred from due times when read back from files). */
    asked: number;
    /** Requests / attack duration; 0 with fewer than two requests (no interval to measure a rate over). */
    achieved: number;
  };
  /** Successful responses per second of the whole run (vegeta's throughput). */
  throughput: number;
  /** attackMs + waitMs. */
  durationMs: number;
  /** From the first due time to the last request sent (scaled by n/(n-1), so n requests at rate r give n/r). */
  attackMs: number;
  /** From the last request sent to the last request finished. */
  waitMs: number;
  /** Corrected latencies: from each request's due time (no coordinated omission). */
  latenciesMs: LatencySummaryMs;
  /** Uncorrected latencies: from when the request was written (what autocannon/wrk report). */
  serviceLatenciesMs: LatencySummaryMs;
  /** How late requests were written compared with their due time: the engine's (or pool's) lag. */
  sendLagMs: { mean: number; p99: number; max: number };
  bytesIn: number;
  bytesOut: number;
  /** Responses with status 200–399. */
  success: number;
  /** success / requests (0–1). */
  successRatio: number;
  /** Responses per status code (requests without a response are in `errors`). */
  statusCodes: Record<string, number>;
  /** Failed requests per stable error code. */
  errors: Record<string, number>;
  bucketMs: number;
  timeline: TimelineBucket[];
}

/** Metrics collector: `add()` every result, `close()` once. Memory does not grow with the request count. */
export interface Metrics {
  add(result: LoadResult): void;
  close(options?: { rateAsked?: number }): LoadMetrics;
}

type Histogram = ReturnType<typeof Hdr.build>;

// hdr-histogram-js is loaded on the first histogram, not with the module: the load area's index
// then stays light enough for the CLI to import at start-up (it costs ~50 ms to load).
const require = createRequire(import.meta.url);
let hdr: typeof Hdr | undefined;

// µs from 1 to 1 hour, 3 significant digits; timeline buckets use 2 (they are many and small).
const newHistogram = (digits: 2 | 3): Histogram =>
  (hdr ??= require('hdr-histogram-js') as typeof Hdr).build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: digits,
    useWebAssembly: false,
  });

const toUs = (ms: number): number => Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000)));
const toMs = (us: number): number => Math.round(us) / 1000;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * A percentile of the histogram, kept within the observed extremes: the histogram reports the top
 * of a value's bucket (3 significant digits), so in a short run p99 could read 4.755 ms over a max
 * of 4.753 ms.
 */
const percentile = (h: Histogram, p: number, min: number, max: number): number =>
  Math.min(max, Math.max(min, toMs(h.getValueAtPercentile(p))));

/** One latency series: percentiles from an HDR histogram, exact mean and extremes beside it. */
class LatencySeries {
  private readonly histogram = newHistogram(3);
  private sum = 0;
  private min = Infinity;
  max = 0;

  record(ms: number): void {
    this.histogram.recordValue(toUs(ms));
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** The `p`th percentile, within the observed extremes. */
  at(p: number): number {
    return percentile(this.histogram, p, r3(this.min), r3(this.max));
  }

  summary(count: number): LatencySummaryMs {
    if (count === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    // Exact extremes; the histogram's are rounded to its precision.
    return {
      min: r3(this.min),
      mean: r3(this.sum / count),
      p50: this.at(50),
      p90: this.at(90),
      p95: this.at(95),
      p99: this.at(99),
      max: r3(this.max),
    };
  }

  mean(count: number): number {
    return count === 0 ? 0 : r3(this.sum / count);
  }
}

/** Most timeline buckets kept (a day of 1 s buckets); records sent later count in the totals only. */
const MAX_TIMELINE_BUCKETS = 86_400;

interface Bucket {
  sent: number;
  minMs: number;
  maxMs: number;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  histogram: Histogram;
}

/** A timeline bucket's percentile (2 significant digits), kept within the bucket's observed extremes. */
const bucketPercentile = (b: Bucket, p: number): number => percentile(b.histogram, p, r3(b.minMs), r3(b.maxMs));

/** Requests by when they were sent, in buckets of `bucketMs`. */
class Timeline {
  private readonly buckets: (Bucket | undefined)[] = [];
  constructor(private readonly bucketMs: number) {}

  /** Counts `r` in its bucket; undefined past {@link MAX_TIMELINE_BUCKETS}. */
  add(r: LoadResult): Bucket | undefined {
    const index = Math.max(0, Math.floor(r.sentMs / this.bucketMs));
    // A record from a broken or hostile file (sent a century later) would allocate buckets
    // without end: past the cap it counts in the totals, not in the timeline.
    if (index >= MAX_TIMELINE_BUCKETS) return undefined;
    let bucket = this.buckets[index];
    if (!bucket) {
      for (let i = this.buckets.length; i < index; i++) this.buckets[i] = undefined;
      bucket = this.buckets[index] = {
        sent: 0,
        minMs: Infinity,
        maxMs: 0,
        statusCodes: {},
        errors: {},
        histogram: newHistogram(2),
      };
    }
    bucket.sent += 1;
    bucket.histogram.recordValue(toUs(r.latencyMs));
    if (r.latencyMs < bucket.minMs) bucket.minMs = r.latencyMs;
    if (r.latencyMs > bucket.maxMs) bucket.maxMs = r.latencyMs;
    return bucket;
  }

  render(): TimelineBucket[] {
    const bucketMs = this.bucketMs;
    return Array.from(this.buckets, (b, i) =>
      b
        ? {
            tMs: i * bucketMs,
            sent: b.sent,
            statusCodes: b.statusCodes,
            errors: b.errors,
            p50: bucketPercentile(b, 50),
            p99: bucketPercentile(b, 99),
          }
        : { tMs: i * bucketMs, sent: 0, statusCodes: {}, errors: {}, p50: 0, p99: 0 },
    );
  }
}

/** When a run's requests were due, sent and done: its durations and rates. */
class Span {
  private firstSent = Infinity;
  private lastSent = -Infinity;
  private lastDone = -Infinity;
  private firstDue = Infinity;
  private lastDue = -Infinity;

  add(r: LoadResult): void {
    if (r.sentMs < this.firstSent) this.firstSent = r.sentMs;
    if (r.sentMs > this.lastSent) this.lastSent = r.sentMs;
    if (r.dueMs < this.firstDue) this.firstDue = r.dueMs;
    if (r.dueMs > this.lastDue) this.lastDue = r.dueMs;
    const doneMs = r.dueMs + r.latencyMs;
    if (doneMs > this.lastDone) this.lastDone = doneMs;
  }

  /** Durations of `n` requests, and the asked rate (given, or read from the due times' spacing). */
  measure(n: number, rateAsked: number | undefined): { attackMs: number; waitMs: number; asked: number } {
    // The attack starts at the first due time, not at the first send: a slow first connect must
    // not make the rate look higher than it was.
    const attackMs = n > 1 ? ((this.lastSent - Math.min(this.firstDue, this.firstSent)) * n) / (n - 1) : 0;
    const waitMs = n > 0 ? Math.max(0, this.lastDone - this.lastSent) : 0;
    // Read back from files, the asked rate is what the due times were spaced for.
    const asked =
      rateAsked ?? (n > 1 && this.lastDue > this.firstDue ? ((n - 1) * 1000) / (this.lastDue - this.firstDue) : 0);
    return { attackMs, waitMs, asked };
  }
}

const increment = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Creates an HDR-histogram-backed collector with timeline buckets of `bucketMs`. */
export function createMetrics({ bucketMs = 1000 }: { bucketMs?: number } = {}): Metrics {
  const latency = new LatencySeries();
  const service = new LatencySeries();
  const lag = new LatencySeries();
  const span = new Span();
  const timeline = new Timeline(bucketMs);
  let requests = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  let success = 0;
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};

  return {
    add(r) {
      requests += 1;
      const lagMs = Math.max(0, r.sentMs - r.dueMs);
      latency.record(r.latencyMs);
      service.record(Math.max(0, r.latencyMs - lagMs));
      lag.record(lagMs);
      bytesIn += r.bytesIn;
      bytesOut += r.bytesOut;
      span.add(r);
      const bucket = timeline.add(r);
      if (r.error !== '') {
        increment(errors, r.error);
        if (bucket) increment(bucket.errors, r.error);
      } else {
        const key = String(r.status);
        increment(statusCodes, key);
        if (bucket) increment(bucket.statusCodes, key);
        if (r.status >= 200 && r.status < 400) success += 1;
      }
    },
    close({ rateAsked } = {}) {
      const n = requests;
      const { attackMs, waitMs, asked } = span.measure(n, rateAsked);
      const durationMs = attackMs + waitMs;
      return {
        requests: n,
        rate: { asked: r3(asked), achieved: attackMs > 0 ? r3((n * 1000) / attackMs) : 0 },
        throughput: durationMs > 0 ? r3((success * 1000) / durationMs) : 0,
        durationMs: r3(durationMs),
        attackMs: r3(attackMs),
        waitMs: r3(waitMs),
        latenciesMs: latency.summary(n),
        serviceLatenciesMs: service.summary(n),
        sendLagMs: n === 0 ? { mean: 0, p99: 0, max: 0 } : { mean: lag.mean(n), p99: lag.at(99), max: r3(lag.max) },
        bytesIn,
        bytesOut,
        success,
        successRatio: n > 0 ? success / n : 0,
        statusCodes,
        errors,
        bucketMs,
        timeline: timeline.render(),
      };
    },
  };
}
