import hdr from 'hdr-histogram-js';
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

type Histogram = ReturnType<typeof hdr.build>;

// µs from 1 to 1 hour, 3 significant digits; timeline buckets use 2 (they are many and small).
const newHistogram = (digits: 2 | 3): Histogram =>
  hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: digits, useWebAssembly: false });

const toUs = (ms: number): number => Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000)));
const toMs = (us: number): number => Math.round(us) / 1000;

/**
 * A percentile of the histogram, kept within the observed extremes: the histogram reports the top
 * of a value's bucket (3 significant digits), so in a short run p99 could read 4.755 ms over a max
 * of 4.753 ms.
 */
const percentile = (h: Histogram, p: number, min: number, max: number): number => Math.min(max, Math.max(min, toMs(h.getValueAtPercentile(p))));

function summarise(h: Histogram, sumMs: number, count: number, minMs: number, maxMs: number): LatencySummaryMs {
  if (count === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  // Exact extremes; the histogram's are rounded to its precision.
  const min = Math.round(minMs * 1000) / 1000;
  const max = Math.round(maxMs * 1000) / 1000;
  return {
    min,
    mean: Math.round((sumMs / count) * 1000) / 1000,
    p50: percentile(h, 50, min, max),
    p90: percentile(h, 90, min, max),
    p95: percentile(h, 95, min, max),
    p99: percentile(h, 99, min, max),
    max,
  };
}

/** A timeline bucket's percentile (2 significant digits), kept within the bucket's observed extremes. */
const bucketPercentile = (b: Bucket, p: number): number => percentile(b.histogram, p, Math.round(b.minMs * 1000) / 1000, Math.round(b.maxMs * 1000) / 1000);

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

/** Creates an HDR-histogram-backed collector with timeline buckets of `bucketMs`. */
export function createMetrics({ bucketMs = 1000 }: { bucketMs?: number } = {}): Metrics {
  const latency = newHistogram(3);
  const service = newHistogram(3);
  const lag = newHistogram(3);
  let requests = 0;
  let latencySum = 0;
  let serviceSum = 0;
  let lagSum = 0;
  let latencyMin = Infinity;
  let latencyMax = 0;
  let serviceMin = Infinity;
  let serviceMax = 0;
  let lagMax = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  let success = 0;
  let firstSent = Infinity;
  let lastSent = -Infinity;
  let lastDone = -Infinity;
  let firstDue = Infinity;
  let lastDue = -Infinity;
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const buckets: (Bucket | undefined)[] = [];

  return {
    add(r) {
      requests += 1;
      const lagMs = Math.max(0, r.sentMs - r.dueMs);
      const serviceMs = Math.max(0, r.latencyMs - lagMs);
      latency.recordValue(toUs(r.latencyMs));
      service.recordValue(toUs(serviceMs));
      lag.recordValue(toUs(lagMs));
      latencySum += r.latencyMs;
      serviceSum += serviceMs;
      lagSum += lagMs;
      if (r.latencyMs < latencyMin) latencyMin = r.latencyMs;
      if (r.latencyMs > latencyMax) latencyMax = r.latencyMs;
      if (serviceMs < serviceMin) serviceMin = serviceMs;
      if (serviceMs > serviceMax) serviceMax = serviceMs;
      if (lagMs > lagMax) lagMax = lagMs;
      bytesIn += r.bytesIn;
      bytesOut += r.bytesOut;
      if (r.sentMs < firstSent) firstSent = r.sentMs;
      if (r.sentMs > lastSent) lastSent = r.sentMs;
      if (r.dueMs < firstDue) firstDue = r.dueMs;
      if (r.dueMs > lastDue) lastDue = r.dueMs;
      const doneMs = r.dueMs + r.latencyMs;
      if (doneMs > lastDone) lastDone = doneMs;
      const index = Math.max(0, Math.floor(r.sentMs / bucketMs));
      // A record from a broken or hostile file (sent a century later) would allocate buckets
      // without end: past the cap it counts in the totals, not in the timeline.
      let bucket = index < MAX_TIMELINE_BUCKETS ? buckets[index] : undefined;
      if (!bucket && index < MAX_TIMELINE_BUCKETS) {
        for (let i = buckets.length; i < index; i++) buckets[i] = undefined;
        bucket = buckets[index] = { sent: 0, minMs: Infinity, maxMs: 0, statusCodes: {}, errors: {}, histogram: newHistogram(2) };
      }
      if (bucket) {
        bucket.sent += 1;
        bucket.histogram.recordValue(toUs(r.latencyMs));
        if (r.latencyMs < bucket.minMs) bucket.minMs = r.latencyMs;
        if (r.latencyMs > bucket.maxMs) bucket.maxMs = r.latencyMs;
      }
      if (r.error !== '') {
        errors[r.error] = (errors[r.error] ?? 0) + 1;
        if (bucket) bucket.errors[r.error] = (bucket.errors[r.error] ?? 0) + 1;
      } else {
        const key = String(r.status);
        statusCodes[key] = (statusCodes[key] ?? 0) + 1;
        if (bucket) bucket.statusCodes[key] = (bucket.statusCodes[key] ?? 0) + 1;
        if (r.status >= 200 && r.status < 400) success += 1;
      }
    },
    close({ rateAsked } = {}) {
      const n = requests;
      // The attack starts at the first due time, not at the first send: a slow first connect must
      // not make the rate look higher than it was.
      const attackMs = n > 1 ? ((lastSent - Math.min(firstDue, firstSent)) * n) / (n - 1) : 0;
      const waitMs = n > 0 ? Math.max(0, lastDone - lastSent) : 0;
      const durationMs = attackMs + waitMs;
      // Read back from files, the asked rate is what the due times were spaced for.
      const asked = rateAsked ?? (n > 1 && lastDue > firstDue ? ((n - 1) * 1000) / (lastDue - firstDue) : 0);
      const r3 = (x: number): number => Math.round(x * 1000) / 1000;
      const timeline: TimelineBucket[] = [];
      for (let i = 0; i < buckets.length; i++) {
        const b = buckets[i];
        timeline.push(
          b
            ? { tMs: i * bucketMs, sent: b.sent, statusCodes: b.statusCodes, errors: b.errors, p50: bucketPercentile(b, 50), p99: bucketPercentile(b, 99) }
            : { tMs: i * bucketMs, sent: 0, statusCodes: {}, errors: {}, p50: 0, p99: 0 },
        );
      }
      return {
        requests: n,
        rate: { asked: r3(asked), achieved: attackMs > 0 ? r3((n * 1000) / attackMs) : 0 },
        throughput: durationMs > 0 ? r3((success * 1000) / durationMs) : 0,
        durationMs: r3(durationMs),
        attackMs: r3(attackMs),
        waitMs: r3(waitMs),
        latenciesMs: summarise(latency, latencySum, n, latencyMin, latencyMax),
        serviceLatenciesMs: summarise(service, serviceSum, n, serviceMin, serviceMax),
        sendLagMs: n === 0 ? { mean: 0, p99: 0, max: 0 } : { mean: r3(lagSum / n), p99: percentile(lag, 99, 0, r3(lagMax)), max: r3(lagMax) },
        bytesIn,
        bytesOut,
        success,
        successRatio: n > 0 ? success / n : 0,
        statusCodes,
        errors,
        bucketMs,
        timeline,
      };
    },
  };
}
