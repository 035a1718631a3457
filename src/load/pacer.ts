/**
 * The Pacer of an open-loop run: request `i` is due `i / rate` seconds after the start, whatever
 * happened to the earlier ones. Latency is measured from that due time, so a stalled server cannot
 * hide its stall by slowing the sender down (no coordinated omission).
 */
export interface Pacer {
  /** Due time of this run's request `i` in ms from the start. */
  dueMs(i: number): number;
  /** Number of this run's requests due within `durationMs`. */
  countWithin(durationMs: number): number;
  /** Sequence number of this run's request `i` in the whole schedule (itself, unless the run has a share of it). */
  seqOf(i: number): number;
}

/** A constant-rate pacer; `rate` in requests per second (> 0). */
export function createConstantPacer(rate: number): Pacer {
  const intervalMs = 1000 / rate;
  return {
    dueMs: (i) => i * intervalMs,
    // The epsilon keeps 1 s × 200/s at exactly 200 despite float rounding.
    countWithin: (durationMs) => Math.max(1, Math.ceil((durationMs * rate) / 1000 - 1e-9)),
    seqOf: (i) => i,
  };
}

/** Which part of a schedule one of several load processes sends: the `index`-th of `count` (1-based). */
export interface RateShare {
  index: number;
  count: number;
}

/**
 * The `share.index`-th of `share.count` interleaved parts of one constant-rate schedule at `rate`
 * (the total): this run sends the schedule's requests `index-1`, `index-1+count`, … at their due
 * times. N runs started at the same instant then send exactly the schedule one run at `rate`
 * would: same count, same due times, so their merged results equal that run's.
 */
export function createSharePacer(rate: number, share: RateShare): Pacer {
  const intervalMs = 1000 / rate;
  const first = share.index - 1;
  return {
    dueMs: (i) => (first + i * share.count) * intervalMs,
    // Schedule requests first + k·count with (first + k·count) / rate < duration.
    countWithin: (durationMs) => Math.max(0, Math.ceil(((durationMs * rate) / 1000 - 1e-9 - first) / share.count)),
    seqOf: (i) => first + i * share.count,
  };
}
