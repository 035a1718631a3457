import { readdir, readFile, stat } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { channel } from 'node:diagnostics_channel';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { debug } from '../util/debug.js';
import { errnoCode } from '../errors/index.js';
import { parseNofileLimits } from '../proc/index.js';
import { resolveGuardOptions, type GuardHook, type GuardOptions, type GuardRequest, type ResolvedGuardOptions } from './options.js';
import { createShedResponse, SHED_REASON_LIST, type ShedReason, type ShedResponse } from './reasons.js';
import { createSocketTracker } from './socket-tracker.js';

/** The guard's numbers at one moment: plain data, JSON-serialisable. */
export interface GuardMetrics {
  /** Open fds (last sample plus connections opened/closed since); `null` where /proc is absent. */
  fdsOpen: number | null;
  /** Soft RLIMIT_NOFILE; `null` when unknown or unlimited. */
  fdsLimit: number | null;
  /** fdsOpen / fdsLimit, 0 when either is unknown. */
  fdRatio: number;
  /** Requests admitted and not yet answered. */
  inflight: number;
  /** Largest event-loop delay seen in the last sample window, in ms. */
  eventLoopDelayMs: number;
  /** V8 heap used, in bytes (last sample). */
  heapUsedBytes: number;
  /** V8 heap used / heap size limit (last sample). */
  heapUsedRatio: number;
  /** Requests shed, per reason, since the guard was created. */
  shedTotal: Record<ShedReason, number>;
  /** Requests admitted since the guard was created. */
  admittedTotal: number;
  /** Idle keep-alive sockets closed by the reaper. */
  reapedTotal: number;
  /** Connections of attached servers open now, and how many of them are idle. */
  sockets: { tracked: number; idle: number };
  /** Samples taken so far. */
  samples: number;
}

/** A guard: evaluates the rules, sheds with 503, reaps idle sockets. See {@link createGuard}. */
export interface Guard {
  readonly options: ResolvedGuardOptions;
  /** Which rule is over its limit now, if any. Compares numbers only: call it per request. */
  evaluate(): ShedReason | undefined;
  /**
   * Admission for one request: returns the reason it must be shed (counted, `onShed` called), or
   * `undefined` when admitted — then it counts as in flight until {@link Guard.release}.
   */
  admit(req: GuardRequest): ShedReason | undefined;
  /** Ends an admitted request (call exactly once per admitted request). */
  release(): void;
  /** The 503 to answer a request shed for `reason`. */
  shedResponse(reason: ShedReason): ShedResponse;
  /**
   * `node:http` admission in one call: sheds (writes the 503, returns true) or admits and releases
   * when `res` closes (returns false, the caller goes on).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Wraps a `node:http` request listener so every request passes the guard first. */
  wrap<L extends RequestListener>(listener: L): RequestListener;
  /**
   * Guards a `node:http` server in place: its current request listeners run only for admitted
   * requests, and {@link Guard.attach} is applied. Call after adding the listeners, before listen.
   */
  protect<S extends Server>(server: S): S;
  /**
   * Tracks `server`'s connections: keeps the fd estimate exact and enables the idle reaper. Call
   * before the first connection arrives (before `listen`, or in the same tick:
   * `guard.attach(app.listen(3000))`); returns `server`. Adapters that call {@link Guard.enter} for
   * every request pass `{ requests: 'manual' }`: `enter` then does the socket bookkeeping too
   * (cheaper than the second 'request' listener the default adds).
   */
  attach<S extends Server>(server: S, options?: { requests?: 'listener' | 'manual' }): S;
  /**
   * `node:http` admission without writing: returns the reason to shed (the caller answers with
   * {@link Guard.shedResponse}), or `undefined` — then the request is in flight until `res`
   * closes. One 'close' listener per response, whatever the bookkeeping.
   */
  enter(req: IncomingMessage, res: ServerResponse): ShedReason | undefined;
  /** The numbers now. */
  metrics(): GuardMetrics;
  /** Takes a sample now (the timer does it every `sampleIntervalMs`); resolves when read. */
  sample(): Promise<void>;
  /** Stops the sampler and detaches from servers; from then on every request is admitted. Idempotent. */
  close(): void;
}

const FDS = 0;
const CONCURRENCY = 1;
const EVENT_LOOP_DELAY = 2;
const HEAP_USED = 3;
/** Limits re-read from `<procDir>/limits` this often: `prlimit` can change them at run time. */
const LIMITS_REFRESH_MS = 5000;
/** The reaper closes idle sockets until the fd ratio is this much below `reapFdRatio`. */
const REAP_HYSTERESIS = 0.1;
/** monitorEventLoopDelay's timer period; its samples include it, so it is subtracted. */
const ELD_RESOLUTION_MS = 10;

const shedChannel = channel('badgateway:guard:shed');
const reapChannel = channel('badgateway:guard:reap');
/** `badgateway:guard:hook-error`: `{ hook, error }` for every error a user hook threw. */
const hookErrorChannel = channel('badgateway:guard:hook-error');

/**
 * Creates a guard. Options are resolved once ({@link GUARD_DEFAULTS}, 0 = off); a background
 * `unref()`'d timer samples fds, event-loop delay and heap; the request path compares numbers.
 * Shedding answers 503 + `Retry-After` + `Connection: close` before the app does any work, so a
 * proxy in front gets a clean answer it passes on, instead of a reset it turns into a 502.
 *
 * ```ts
 * const guard = createGuard({ maxFdRatio: 0.9, maxEventLoopDelayMs: 500 });
 * const server = guard.protect(http.createServer(app));
 * ```
 */
export function createGuard(options: GuardOptions = {}): Guard {
  const opts = resolveGuardOptions(options);
  const fdDir = `${opts.procDir}/fd`;
  const limitsFile = `${opts.procDir}/limits`;

  // Every rule is one slot: its current value and its limit. evaluate() is the one threshold
  // check, written once, for all of them.
  const values = new Float64Array(4);
  const limits = new Float64Array([opts.maxFdRatio, opts.maxConcurrency, opts.maxEventLoopDelayMs, opts.maxHeapUsedRatio]);
  let active: number[] = [];

  const shedTotal = Object.fromEntries(SHED_REASON_LIST.map((r) => [r, 0])) as Record<ShedReason, number>;
  let admittedTotal = 0;
  let reapedTotal = 0;
  let inflight = 0;
  let samples = 0;

  // fds: the last sample plus sockets opened minus closed since (from attached servers), so a
  // burst of connections moves the estimate at once, between samples.
  let fdsAvailable = true;
  let fdsSampled = 0;
  let fdsDelta = 0;
  let fdsLimit = 0; // 0 = unknown or unlimited
  /** The fd dir's st_size is its fd count (procfs, Linux 6.2+); else it is listed. */
  let fdsBySize = false;
  let limitsReadAt = 0;
  let eventLoopDelayMs = 0;
  let heapUsedBytes = 0;
  let heapUsedRatio = 0;
  let nextSampleDueAt = 0;
  let sampling = false;
  let closed = false;

  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  histogram.enable();

  const fdRatio = (): number => (fdsAvailable && fdsLimit > 0 ? (fdsSampled + fdsDelta) / fdsLimit : 0);
  const updateFdValue = (): void => {
    values[FDS] = fdRatio();
  };

  const readLimitSync = (): void => {
    fdsLimit = parseSoftNofile(readFileSync(limitsFile, 'utf8'));
    limitsReadAt = Date.now();
  };

  function disableFds(err: unknown): void {
    if (!fdsAvailable) return;
    fdsAvailable = false;
    fdsLimit = 0;
    fdsSampled = 0;
    fdsDelta = 0;
    debug('guard: fd rules off: cannot read %s (%s); other rules keep working', fdDir, (err as Error)?.message ?? err);
    updateActive();
  }

  function updateActive(): void {
    active = [];
    for (let i = 0; i < limits.length; i++) {
      if (limits[i]! <= 0) continue;
      if (i === FDS && !fdsAvailable) continue;
      active.push(i);
    }
  }

  const tracker = createSocketTracker({
    onOpen(socket) {
      fdsDelta += 1;
      updateFdValue();
      maybeReap(socket);
    },
    onClose() {
      fdsDelta -= 1;
      updateFdValue();
    },
  });

  function maybeReap(except?: Socket): void {
    if (opts.reapFdRatio <= 0 || !fdsAvailable || fdsLimit <= 0) return;
    const open = fdsSampled + fdsDelta;
    if (open < opts.reapFdRatio * fdsLimit) return;
    const target = Math.floor(Math.max(0, opts.reapFdRatio - REAP_HYSTERESIS) * fdsLimit);
    const n = tracker.reapIdle(open - target, except);
    if (n === 0) return;
    reapedTotal += n;
    fdsDelta -= n;
    updateFdValue();
    debug('guard: reaped %d idle sockets at %d/%d fds', n, open, fdsLimit);
    if (reapChannel.hasSubscribers) reapChannel.publish({ reaped: n, fdsOpen: open, fdsLimit });
  }

  function sampleCheap(lateMs = 0): void {
    // The delay histogram's max over the window (a blocked loop is a max, not a mean, event), or
    // how late this very tick is: after a block the histogram's own timer may not have recorded
    // the delay yet when this tick runs, and the requests queued meanwhile come right after.
    eventLoopDelayMs = Math.max(0, histogram.max / 1e6 - ELD_RESOLUTION_MS, lateMs);
    histogram.reset();
    const heap = getHeapStatistics();
    heapUsedBytes = heap.used_heap_size;
    heapUsedRatio = heap.heap_size_limit > 0 ? heap.used_heap_size / heap.heap_size_limit : 0;
    values[EVENT_LOOP_DELAY] = eventLoopDelayMs;
    values[HEAP_USED] = heapUsedRatio;
    samples += 1;
  }

  // First sample synchronously, so the guard is right from the first request.
  try {
    fdsSampled = readdirSync(fdDir).length - 1; // minus the fd readdir itself had open
    // Linux 6.2+ gives a /proc/PID/fd dir's st_size as its count of open fds: one stat, no fd
    // needed, O(1) instead of a listing of every fd (the listing is sorted and turned into JS
    // strings: ~30 ms per sample at 20,000 fds). Older kernels say 0, a stand-in dir its bytes.
    fdsBySize = statSync(fdDir).size === fdsSampled;
    readLimitSync();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EMFILE' || code === 'ENFILE') fdsSampled = fdsLimit; // limit unknown yet: the timer retries
    else disableFds(err);
  }
  updateActive();
  updateFdValue();
  sampleCheap();

  async function sample(): Promise<void> {
    if (closed) return;
    const now = performance.now();
    const lateMs = now - nextSampleDueAt;
    nextSampleDueAt = now + opts.sampleIntervalMs;
    sampleCheap(lateMs);
    if (!fdsAvailable || sampling) return;
    sampling = true;
    try {
      if (Date.now() - limitsReadAt >= LIMITS_REFRESH_MS) {
        fdsLimit = parseSoftNofile(await readFile(limitsFile, 'utf8'));
        limitsReadAt = Date.now();
      }
      fdsSampled = fdsBySize ? (await stat(fdDir)).size : (await readdir(fdDir)).length - 1;
    } catch (err) {
      const code = errnoCode(err);
      // Reading /proc needs an fd too: EMFILE *is* the answer (every fd in use), and exactly
      // when the reaper must act. Anything else means /proc is not there for us.
      if (code !== 'EMFILE' && code !== 'ENFILE') {
        disableFds(err);
        return;
      }
      if (fdsLimit > 0) fdsSampled = fdsLimit;
    } finally {
      sampling = false;
    }
    fdsDelta = 0;
    updateFdValue();
    maybeReap();
  }

  nextSampleDueAt = performance.now() + opts.sampleIntervalMs;
  const timer = setInterval(() => void sample(), opts.sampleIntervalMs);
  timer.unref();

  // No clock read here: after a block, the requests that queued meanwhile are read from their
  // sockets in the loop's next poll phase, and the timers phase before it runs the overdue
  // sampler tick, whose lateness already counts as delay (see sampleCheap).
  function evaluate(): ShedReason | undefined {
    for (let k = 0; k < active.length; k++) {
      const i = active[k]!;
      if (values[i]! >= limits[i]!) return SHED_REASON_LIST[i];
    }
    return undefined;
  }

  function release(): void {
    inflight -= 1;
    values[CONCURRENCY] = inflight;
  }

  const warnedHooks = new Set<GuardHook>();
  /** A hook threw: reported, never rethrown into the host's request path. */
  function hookFailed(error: unknown, hook: GuardHook): void {
    debug('guard: %s threw: %o', hook, error);
    if (hookErrorChannel.hasSubscribers) hookErrorChannel.publish({ hook, error });
    if (opts.onError) {
      try {
        opts.onError(error, hook);
      } catch (err) {
        debug('guard: onError threw: %o', err);
      }
    } else if (!warnedHooks.has(hook)) {
      warnedHooks.add(hook);
      const what = hook === 'skip' ? 'the request was treated as not skipped' : 'the request was shed as usual';
      process.emitWarning(`badgateway/guard: ${hook} threw (${error instanceof Error ? error.message : String(error)}); ${what}. Pass onError to handle these.`, {
        code: 'BG_GUARD_HOOK_ERROR',
      });
    }
  }

  function skipped(req: GuardRequest): boolean {
    if (opts.skip === undefined) return false;
    try {
      return Boolean(opts.skip(req));
    } catch (err) {
      hookFailed(err, 'skip');
      return false;
    }
  }

  function admit(req: GuardRequest): ShedReason | undefined {
    const reason = evaluate();
    if (reason !== undefined && !skipped(req)) {
      shedTotal[reason] += 1;
      if (opts.onShed) {
        try {
          opts.onShed(reason, req);
        } catch (err) {
          hookFailed(err, 'onShed');
        }
      }
      if (shedChannel.hasSubscribers) shedChannel.publish({ reason, req });
      return reason;
    }
    inflight += 1;
    admittedTotal += 1;
    values[CONCURRENCY] = inflight;
    return undefined;
  }

  const shedResponses = new Map<ShedReason, ShedResponse>(
    SHED_REASON_LIST.map((r) => [r, createShedResponse(r, opts.retryAfterS)]),
  );
  const shedResponse = (reason: ShedReason): ShedResponse => shedResponses.get(reason)!;

  function enter(req: IncomingMessage, res: ServerResponse): ShedReason | undefined {
    const tracked = tracker.markBusy(req);
    const reason = admit(req);
    // 'close' fires exactly once per response (sent or aborted): `on`, not `once`, saves the
    // once-wrapper allocation on every request.
    if (reason === undefined) res.on('close', tracked ? releaseAndTrack : release);
    else if (tracked) res.on('close', tracker.responseClosed);
    return reason;
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const reason = enter(req, res);
    if (reason === undefined) return false;
    writeShed(res, reason);
    return true;
  }

  function writeShed(res: ServerResponse, reason: ShedReason): void {
    const shed = shedResponse(reason);
    res.writeHead(shed.status, shed.headers);
    res.end(shed.body);
  }

  // The one 'close' listener of an admitted response on a tracked socket.
  function releaseAndTrack(this: ServerResponse): void {
    release();
    tracker.responseClosed.call(this as unknown as { req: { socket: Socket } });
  }

  const guard: Guard = {
    options: opts,
    evaluate,
    admit,
    release,
    shedResponse,
    handle,
    enter,
    wrap(listener) {
      return function guarded(this: unknown, req, res) {
        if (handle(req, res)) return;
        listener.call(this, req, res);
      } as RequestListener;
    },
    protect(server) {
      const listeners = server.listeners('request') as RequestListener[];
      server.removeAllListeners('request');
      const only = listeners.length === 1 ? listeners[0]! : undefined;
      // One 'request' listener in the end: tracking, admission and the app in one call.
      server.on('request', function guarded(req: IncomingMessage, res: ServerResponse) {
        if (handle(req, res)) return;
        if (only) only.call(server, req, res);
        else for (const l of listeners) l.call(server, req, res);
      });
      tracker.attach(server, { requests: 'manual' });
      return server;
    },
    attach(server, options) {
      tracker.attach(server, options);
      return server;
    },

    metrics() {
      return {
        fdsOpen: fdsAvailable ? fdsSampled + fdsDelta : null,
        fdsLimit: fdsAvailable && fdsLimit > 0 ? fdsLimit : null,
        fdRatio: fdRatio(),
        inflight,
        eventLoopDelayMs,
        heapUsedBytes,
        heapUsedRatio,
        shedTotal: { ...shedTotal },
        admittedTotal,
        reapedTotal,
        sockets: { tracked: tracker.tracked, idle: tracker.idle },
        samples,
      };
    },
    sample,
    close() {
      if (closed) return;
      closed = true;
      // A closed guard admits everything: its numbers are no longer sampled.
      active = [];
      clearInterval(timer);
      histogram.disable();
      tracker.detach();
    },
  };
  return guard;
}

/** Soft limit from a `/proc/<pid>/limits` text; 0 when unlimited (the fd rules then never fire). */
function parseSoftNofile(text: string): number {
  return parseNofileLimits(text).soft ?? 0;
}
