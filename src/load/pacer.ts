/**
 * The Pacer of an open-loop run: request `i` is due `i / rate` seconds after the start, whatever
 * happened to the earlier ones. Latency is measured from that due time, so a stalled server cannot
 * hide its stall by slowing the sender down (no coordinated omission).
 */
export interface Pacer {
  /** Due time of request `i` in ms from the start. */
  dueMs(i: number): number;
  /** Number of requests due within `durationMs` (`i / rate < duration`). */
  countWithin(durationMs: number): number;
}

/** A constant-rate pacer; `rate` in requests per second (> 0). */
export function createConstantPacer(rate: number): Pacer {
  const intervalMs = 1000 / rate;
  return {
    dueMs: (i) => i * intervalMs,
    // The epsilon keeps 1 s × 200/s at exactly 200 despite float rounding.
    countWithin: (durationMs) => Math.max(1, Math.ceil((durationMs * rate) / 1000 - 1e-9)),
  };
}
