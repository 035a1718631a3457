import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { channel } from 'node:diagnostics_channel';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { debug } from '../util/index.js';
import { createFdSampler, type FdSampler } from './fd-sampler.js';
import {
  resolveGuardOptions,
  type GuardHook,
  type GuardOptions,
  type GuardRequest,
  type ResolvedGuardOptions,
} from './options.js';
import { createShedResponse, SHED_REASONS, SHED_REASON_LIST, type ShedReason, type ShedResponse } from './reasons.js';
import { createSocketTracker, type SocketTracker } from './socket-tracker.js';

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

/** The reaper closes idle sockets until the fd ratio is this much below `reapFdRatio`. */
const REAP_HYSTERESIS = 0.1;
/** monitorEventLoopDelay's timer period; its samples include it, so it is subtracted. */
const ELD_RESOLUTION_MS = 10;

const shedChannel = channel('badgateway:guard:shed');
const reapChannel = channel('badgateway:guard:reap');
/** `badgateway:guard:hook-error`: `{ hook, error }` for every error a user hook threw. */
const hookErrorChannel = channel('badgateway:guard:hook-error');

/**
 * One shedding rule: shed with `reason` once `value` reaches `limit` (0 = off). The table of
 * them is the order the guard checks in, and {@link evaluateRules} the one threshold check.
 * `value` is a slot its source refreshes when the number changes (the fd sampler's `onChange`,
 * the sampling tick, admit and release), so the request path reads plain numbers of one shape:
 * four calls through `read()` per request cost ~3× the whole admit-and-release (17 vs 60 ns).
 */
interface Rule {
  reason: ShedReason;
  limit: number;
  value: number;
  refresh(): void;
}

const rule = (reason: ShedReason, limit: number, read: () => number): Rule => {
  const r: Rule = { reason, limit, value: read(), refresh: () => (r.value = read()) };
  return r;
};

/** The guard's rules, in the order they are checked: the one place a rule, its limit and its number meet. */
function createRules(opts: ResolvedGuardOptions, fds: FdSampler, runtime: RuntimeSampler) {
  const byReason = {
    fds: rule(SHED_REASONS.FDS, opts.maxFdRatio, fds.ratio),
    // Its value is the in-flight count itself: admit adds one, release takes one (nothing to read).
    concurrency: rule(SHED_REASONS.CONCURRENCY, opts.maxConcurrency, () => 0),
    eventLoopDelay: rule(SHED_REASONS.EVENT_LOOP_DELAY, opts.maxEventLoopDelayMs, () => runtime.eventLoopDelayMs),
    heapUsed: rule(SHED_REASONS.HEAP_USED, opts.maxHeapUsedRatio, () => runtime.heapUsedRatio),
  };
  return { ...byReason, all: Object.values(byReason) as readonly Rule[] };
}

/** The first rule at or over its limit; compares numbers only (no clock, no I/O, no call). */
function evaluateRules(rules: readonly Rule[]): ShedReason | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.value >= rule.limit) return rule.reason;
  }
  return undefined;
}

/** Event-loop delay and heap, sampled by the guard's timer (cheap: no I/O). */
interface RuntimeSampler {
  eventLoopDelayMs: number;
  heapUsedBytes: number;
  heapUsedRatio: number;
  samples: number;
  /** Reads both; `lateMs` is how late the timer tick that calls it ran. */
  sample(lateMs: number): void;
  close(): void;
}

function createRuntimeSampler(): RuntimeSampler {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  histogram.enable();
  const sampler: RuntimeSampler = {
    eventLoopDelayMs: 0,
    heapUsedBytes: 0,
    heapUsedRatio: 0,
    samples: 0,
    sample(lateMs) {
      // The delay histogram's max over the window (a blocked loop is a max, not a mean, event), or
      // how late this very tick is: after a block the histogram's own timer may not have recorded
      // the delay yet when this tick runs, and the requests queued meanwhile come right after.
      sampler.eventLoopDelayMs = Math.max(0, histogram.max / 1e6 - ELD_RESOLUTION_MS, lateMs);
      histogram.reset();
      const heap = getHeapStatistics();
      sampler.heapUsedBytes = heap.used_heap_size;
      sampler.heapUsedRatio = heap.heap_size_limit > 0 ? heap.used_heap_size / heap.heap_size_limit : 0;
      sampler.samples += 1;
    },
    close: () => histogram.disable(),
  };
  sampler.sample(0); // right from the first request
  return sampler;
}

/** The user's hooks, called so that an error they throw never reaches the host's request path. */
interface Hooks {
  /** `skip(req)`; false when it throws. */
  skipped(req: GuardRequest): boolean;
  /** `onShed(reason, req)` and the diagnostics channel. */
  shed(reason: ShedReason, req: GuardRequest): void;
}

function createHooks(opts: ResolvedGuardOptions): Hooks {
  const warned = new Set<GuardHook>();
  function failed(error: unknown, hook: GuardHook): void {
    debug('guard: %s threw: %o', hook, error);
    if (hookErrorChannel.hasSubscribers) hookErrorChannel.publish({ hook, error });
    if (opts.onError) {
      try {
        opts.onError(error, hook);
      } catch (err) {
        debug('guard: onError threw: %o', err);
      }
    } else if (!warned.has(hook)) {
      warned.add(hook);
      const what = hook === 'skip' ? 'the request was treated as not skipped' : 'the request was shed as usual';
      process.emitWarning(
        `badgateway/guard: ${hook} threw (${error instanceof Error ? error.message : String(error)}); ${what}. Pass onError to handle these.`,
        {
          code: 'BG_GUARD_HOOK_ERROR',
        },
      );
    }
  }
  return {
    skipped(req) {
      if (opts.skip === undefined) return false;
      try {
        return Boolean(opts.skip(req));
      } catch (err) {
        failed(err, 'skip');
        return false;
      }
    },
    shed(reason, req) {
      if (opts.onShed) {
        try {
          opts.onShed(reason, req);
        } catch (err) {
          failed(err, 'onShed');
        }
      }
      if (shedChannel.hasSubscribers) shedChannel.publish({ reason, req });
    },
  };
}

/** The socket tracker wired to the fd estimate: a connection moves it at once (and may reap), a close too. */
function trackSockets(fds: FdSampler, reap: (except?: Socket) => void): SocketTracker {
  return createSocketTracker({
    onOpen(socket) {
      fds.add(1);
      reap(socket);
    },
    onClose: () => fds.add(-1),
  });
}

/**
 * The reaper: at `reapFdRatio` of the fd limit, closes idle keep-alive sockets (oldest first)
 * until the ratio is {@link REAP_HYSTERESIS} below it. Returns how many it closed.
 */
function reapIdle(opts: ResolvedGuardOptions, fds: FdSampler, tracker: SocketTracker, except?: Socket): number {
  if (opts.reapFdRatio <= 0 || !fds.available || fds.limit <= 0) return 0;
  const open = fds.open;
  if (open < opts.reapFdRatio * fds.limit) return 0;
  const target = Math.floor(Math.max(0, opts.reapFdRatio - REAP_HYSTERESIS) * fds.limit);
  const n = tracker.reapIdle(open - target, except);
  if (n === 0) return 0;
  fds.add(-n);
  debug('guard: reaped %d idle sockets at %d/%d fds', n, open, fds.limit);
  if (reapChannel.hasSubscribers) reapChannel.publish({ reaped: n, fdsOpen: open, fdsLimit: fds.limit });
  return n;
}

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
  const shedTotal = Object.fromEntries(SHED_REASON_LIST.map((r) => [r, 0])) as Record<ShedReason, number>;
  let admittedTotal = 0;
  let reapedTotal = 0;
  let closed = false;

  const runtime = createRuntimeSampler();
  const fds = createFdSampler(opts.procDir, {
    onChange: () => rules.fds.refresh(),
    onUnavailable: () => (active = activeRules()),
  });
  const reap = (except?: Socket): void => {
    reapedTotal += reapIdle(opts, fds, tracker, except);
  };
  const tracker = trackSockets(fds, reap);
  const rules = createRules(opts, fds, runtime);
  const activeRules = (): Rule[] =>
    closed ? [] : rules.all.filter((r) => r.limit > 0 && (r.reason !== SHED_REASONS.FDS || fds.available));
  let active = activeRules();

  const sampler = startSampling(opts.sampleIntervalMs, runtime, fds, {
    onRuntimeRead() {
      rules.eventLoopDelay.refresh();
      rules.heapUsed.refresh();
    },
    onFdsRead: () => reap(),
  });

  const hooks = createHooks(opts);
  // No clock read here: after a block, the requests that queued meanwhile are read from their
  // sockets in the loop's next poll phase, and the timers phase before it runs the overdue
  // sampler tick, whose lateness already counts as delay (see RuntimeSampler).
  const evaluate = (): ShedReason | undefined => evaluateRules(active);
  function admit(req: GuardRequest): ShedReason | undefined {
    const reason = evaluate();
    if (reason !== undefined && !hooks.skipped(req)) {
      shedTotal[reason] += 1;
      hooks.shed(reason, req);
      return reason;
    }
    rules.concurrency.value += 1;
    admittedTotal += 1;
    return undefined;
  }
  const release = (): void => {
    rules.concurrency.value -= 1;
  };

  const metrics = (): GuardMetrics =>
    guardMetrics(fds, runtime, tracker, {
      inflight: rules.concurrency.value,
      shedTotal: { ...shedTotal },
      admittedTotal,
      reapedTotal,
    });
  function close(): void {
    if (closed) return;
    closed = true;
    // A closed guard admits everything: its numbers are no longer sampled.
    active = [];
    sampler.stop();
    runtime.close();
    tracker.detach();
  }
  const core = {
    options: opts,
    evaluate,
    admit,
    release,
    shedResponse: createShedResponses(opts.retryAfterS),
    metrics,
    sample: sampler.sample,
    close,
  };
  return { ...core, ...createNodeHttpGlue(core, tracker) };
}

/**
 * The guard's clock: an `unref()`'d timer that samples the runtime and the fds every `intervalMs`.
 * How late a tick runs is passed on as event-loop delay (see {@link RuntimeSampler}); `onFdsRead`
 * runs after each fd reading (the fd rule and the reaper), `onRuntimeRead` after each runtime
 * reading (the delay and heap rules). Stopped, it samples nothing more.
 */
function startSampling(
  intervalMs: number,
  runtime: RuntimeSampler,
  fds: FdSampler,
  on: { onRuntimeRead(): void; onFdsRead(): void },
): { sample(): Promise<void>; stop(): void } {
  let stopped = false;
  let nextSampleDueAt = performance.now() + intervalMs;
  async function sample(): Promise<void> {
    if (stopped) return;
    const now = performance.now();
    runtime.sample(now - nextSampleDueAt);
    on.onRuntimeRead();
    nextSampleDueAt = now + intervalMs;
    if (await fds.sample()) on.onFdsRead();
  }
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  return {
    sample,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The guard's counters as {@link GuardMetrics}, with the samplers' and the tracker's numbers. */
function guardMetrics(
  fds: FdSampler,
  runtime: RuntimeSampler,
  tracker: SocketTracker,
  counters: Pick<GuardMetrics, 'inflight' | 'shedTotal' | 'admittedTotal' | 'reapedTotal'>,
): GuardMetrics {
  return {
    fdsOpen: fds.available ? fds.open : null,
    fdsLimit: fds.available && fds.limit > 0 ? fds.limit : null,
    fdRatio: fds.ratio(),
    inflight: counters.inflight,
    eventLoopDelayMs: runtime.eventLoopDelayMs,
    heapUsedBytes: runtime.heapUsedBytes,
    heapUsedRatio: runtime.heapUsedRatio,
    shedTotal: counters.shedTotal,
    admittedTotal: counters.admittedTotal,
    reapedTotal: counters.reapedTotal,
    sockets: { tracked: tracker.tracked, idle: tracker.idle },
    samples: runtime.samples,
  };
}

/** The 503 per reason, built once. */
function createShedResponses(retryAfterS: number): (reason: ShedReason) => ShedResponse {
  const responses = new Map<ShedReason, ShedResponse>(
    SHED_REASON_LIST.map((r) => [r, createShedResponse(r, retryAfterS)]),
  );
  return (reason) => responses.get(reason)!;
}

type GuardCore = Pick<Guard, 'admit' | 'release' | 'shedResponse'>;

/** The `node:http` side of a guard: admission with socket bookkeeping, and the wrappers built on it. */
function createNodeHttpGlue(
  core: GuardCore,
  tracker: SocketTracker,
): Pick<Guard, 'enter' | 'handle' | 'wrap' | 'protect' | 'attach'> {
  const { admit, release } = core;
  // The one 'close' listener of an admitted response on a tracked socket.
  function releaseAndTrack(this: ServerResponse): void {
    release();
    tracker.responseClosed.call(this as unknown as { req: { socket: Socket } });
  }
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
    const shed = core.shedResponse(reason);
    res.writeHead(shed.status, shed.headers);
    res.end(shed.body);
    return true;
  }
  return {
    enter,
    handle,
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
  };
}
