import { performance } from 'node:perf_hooks';

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

/**
 * Time as the open loop sees it: a clock in ms since the run's start and the timers that wake
 * it. Injected, so pacing is tested in virtual time ({@link createOpenLoop} never reads the wall
 * clock itself).
 */
export interface LoopClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate(fn: () => void): unknown;
  clearImmediate(handle: unknown): void;
}

/** The real clock: `performance.now()` from `t0`, Node's timers. */
export function createLoopClock(t0: number): LoopClock {
  return {
    now: () => performance.now() - t0,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    setImmediate: (fn) => setImmediate(fn),
    clearImmediate: (handle) => clearImmediate(handle as NodeJS.Immediate),
  };
}

/**
 * A whole batch of due requests is sent before the loop yields to I/O, but never more than
 * this: responses must keep being read while the loop catches up.
 */
export const MAX_BATCH = 256;

/**
 * Late requests are still sent (the lateness shows in the send lag and the achieved rate), but
 * a generator this far behind the end of the attack (at least 1 s, or a whole duration) gives
 * up and counts the rest as unsent rather than stretch the run without end.
 */
export const LATE_STOP_MIN_MS = 1_000;

/** What the open loop drives: the Attacker sends, counts requests in flight, and hears the end. */
export interface OpenLoopTarget {
  /** Sends the loop's next request, due at `dueMs` (latency counts from there). */
  send(dueMs: number): void;
  /** Requests in flight now. */
  inflight(): number;
  /** Sending is over: all `total` sent (`unsent` 0), or hopelessly behind (the rest unsent). */
  done(unsent: number): void;
}

export interface OpenLoop {
  start(): void;
  /** A request finished: go on if the loop was waiting for room under `maxInflight`. */
  resume(): void;
  /** Stops sending (interrupted): no more sends, `done` is not called. */
  stop(): void;
  /** Requests sent so far. */
  readonly sent: number;
}

/**
 * The open loop: sends every request when the pacer says it is due, whatever happened to the
 * earlier ones, in batches of at most {@link MAX_BATCH}, never more than `maxInflight` at once,
 * and gives up once {@link LATE_STOP_MIN_MS} past the end (see there).
 */
export function createOpenLoop(
  pacer: Pacer,
  limits: { total: number; durationMs: number; maxInflight: number },
  clock: LoopClock,
  target: OpenLoopTarget,
): OpenLoop {
  const lateStopMs = limits.durationMs + Math.max(LATE_STOP_MIN_MS, limits.durationMs);
  let sent = 0;
  let timer: unknown;
  let immediate: unknown;
  let blocked = false;
  let stopped = false;

  const finish = (unsent: number): void => {
    stopped = true;
    target.done(unsent);
  };
  function pump(): void {
    timer = immediate = undefined;
    if (stopped) return;
    for (let batch = 0; sent < limits.total; batch++) {
      const now = clock.now();
      const due = pacer.dueMs(sent);
      if (due > now) {
        timer = clock.setTimeout(pump, due - now);
        return;
      }
      // Hopelessly behind: say so (unsent) rather than stretch the run.
      if (now > lateStopMs) return finish(limits.total - sent);
      if (target.inflight() >= limits.maxInflight) {
        blocked = true;
        return;
      }
      if (batch >= MAX_BATCH) {
        immediate = clock.setImmediate(pump);
        return;
      }
      sent += 1;
      target.send(due);
      if (stopped) return;
    }
    finish(0);
  }

  return {
    start: pump,
    resume() {
      if (!blocked || stopped) return;
      blocked = false;
      immediate = clock.setImmediate(pump);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (immediate !== undefined) clock.clearImmediate(immediate);
    },
    get sent() {
      return sent;
    },
  };
}
