import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Dispatcher, Pool } from 'undici';
import { debug, sleep } from '../util/index.js';
import { classifyError, LOAD_ERROR_CODES, type LoadErrorCode } from './error-codes.js';
import type { ResolvedLoadOptions } from './options.js';
import {
  createConstantPacer,
  createLoopClock,
  createOpenLoop,
  createSharePacer,
  type LoopClock,
  type OpenLoop,
} from './pacer.js';
import type { LoadResult } from './result.js';
import { createTargeter } from './targets.js';
import { RawPool, serializeRequest } from './raw-pool.js';

/** What the Attacker tells its caller once every request has finished. */
export interface AttackSummary {
  /** Requests sent (each produced exactly one result). */
  sent: number;
  /** Open loop: requests due within the duration that were never sent because the engine fell behind. */
  unsent: number;
  /** Most requests in flight at once. */
  peakInflight: number;
  /** Connections the run could open at most (connections × origins). */
  connectionCap: number;
  /** True when the run was stopped by its signal. */
  interrupted: boolean;
  /** Wall-clock start (ms since the epoch). */
  startedAtMs: number;
}

/** One target, prepared once: sending a request is one call. */
interface PreparedTarget {
  send(handler: InflightRequest): void;
  bytesOut: number;
}

/** A connection pool of either engine. */
interface Transport {
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * diagnostics_channel `badgateway:load:result`: every finished request (a {@link LoadResult}) is
 * published here when someone subscribes; free otherwise.
 */
export const RESULT_CHANNEL = channel('badgateway:load:result');

/** What aborts a request the Attacker gave up on; its result already says why (TIMEOUT, CANCELED). */
const abortError = (code: LoadErrorCode, message: string): Error => Object.assign(new Error(message), { code });

/**
 * One request in flight; also the undici handler (legacy callback API: the cheapest path in
 * undici 7, no wrapper objects) and, once finished, the result.
 */
class InflightRequest implements LoadResult {
  latencyMs = 0;
  status = 0;
  bytesIn = 0;
  error: LoadErrorCode | '' = '';
  done = false;
  timedOut = false;
  abort: ((err?: Error) => void) | undefined = undefined;
  readonly dispatchedMs: number;

  constructor(
    private readonly attack: Attack,
    readonly seq: number,
    readonly dueMs: number,
    public sentMs: number,
    readonly bytesOut: number,
  ) {
    this.dispatchedMs = sentMs;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) {
      // Timed out (or cancelled) while it waited in the pool for a connection.
      abort(abortError(LOAD_ERROR_CODES.TIMEOUT, 'timed out before it got a connection'));
      return;
    }
    this.abort = abort;
    // undici calls this just before writing the request: the uncorrected latency starts here.
    this.sentMs = this.attack.now();
  }

  onHeaders(status: number): boolean {
    this.status = status;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytesIn += chunk.length;
    return true;
  }

  onComplete(): void {
    this.attack.finish(this, '');
  }

  onError(err: Error): void {
    if (this.done) return;
    this.status = 0;
    this.attack.finish(this, this.timedOut ? LOAD_ERROR_CODES.TIMEOUT : classifyError(err));
  }

  onUpgrade(): void {}

  onBodySent(): void {}
}

/**
 * Targets prepared once, each with its origin's pool (one per origin and engine): sending a
 * request is then one call.
 */
function prepareTargets(
  o: ResolvedLoadOptions,
  PoolClass: typeof Pool | undefined,
): { targets: PreparedTarget[]; pools: Transport[] } {
  const pools: Transport[] = [];
  const byOrigin = new Map<string, { undici?: Pool; raw?: RawPool }>();
  const targets = o.targets.map((t): PreparedTarget => {
    const url = new URL(t.url);
    const body = t.body === undefined ? undefined : Buffer.from(t.body);
    const bytesOut = body?.length ?? 0;
    let origin = byOrigin.get(url.origin);
    if (!origin) byOrigin.set(url.origin, (origin = {}));
    // The raw engine speaks plain HTTP/1.1 only; TLS targets always go through undici.
    if (o.engine === 'raw' && url.protocol === 'http:') {
      if (!origin.raw) pools.push((origin.raw = createRawPool(o, url)));
      const pool = origin.raw;
      const request = serializeRequest(
        t.method,
        `${url.pathname}${url.search}`,
        url.host,
        t.headers,
        body,
        o.keepAlive,
      );
      return { send: (handler) => pool.dispatch(request, handler), bytesOut };
    }
    if (!origin.undici) pools.push((origin.undici = createUndiciPool(o, url, PoolClass!)));
    const pool = origin.undici;
    const options: Dispatcher.DispatchOptions = {
      path: `${url.pathname}${url.search}`,
      method: t.method as Dispatcher.HttpMethod,
      headers: t.headers,
      ...(body !== undefined ? { body } : {}),
      // reset: undici sends `connection: close` and closes the socket after the response,
      // so every request opens a new connection.
      ...(o.keepAlive ? {} : { reset: true }),
    };
    return { send: (handler) => pool.dispatch(options, handler), bytesOut };
  });
  return { targets, pools };
}

function createRawPool(o: ResolvedLoadOptions, url: URL): RawPool {
  return new RawPool({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    ...(o.unixSocket !== undefined ? { socketPath: o.unixSocket } : {}),
    connections: o.connections,
    keepAlive: o.keepAlive,
    connectTimeoutMs: o.timeoutMs,
  });
}

function createUndiciPool(o: ResolvedLoadOptions, url: URL, PoolClass: typeof Pool): Pool {
  return new PoolClass(url.origin, {
    connections: o.connections,
    pipelining: 1,
    // The sweeper enforces the whole-request deadline; undici's own timers stay off.
    headersTimeout: 0,
    bodyTimeout: 0,
    ...(o.timeoutMs > 0 ? { connectTimeout: o.timeoutMs } : {}),
    ...(o.unixSocket !== undefined ? { socketPath: o.unixSocket } : {}),
  });
}

/** One run of the Attacker: pacer → targets → pool → results. Use {@link runAttack}. */
class Attack {
  readonly startedAtMs: number;
  private readonly clock: LoopClock;
  private readonly targets: PreparedTarget[];
  private readonly pools: Transport[];
  private readonly targeter;
  private readonly maxInflight: number;
  private readonly total: number;
  private readonly seqOf: (i: number) => number;
  /** Open loop (rate > 0): sends on the pacer's schedule; undefined in a closed loop. */
  private readonly loop: OpenLoop | undefined;
  private seq = 0;
  inflight = 0;
  finished = 0;
  errors = 0;
  success = 0;
  private unsent = 0;
  private peakInflight = 0;
  private sending = true;
  private interrupted = false;
  private readonly timers: NodeJS.Timeout[] = [];
  // Requests in sending order, for the timeout sweeper (a FIFO: one deadline for all).
  private queue: InflightRequest[] = [];
  private head = 0;
  private resolveDone!: () => void;
  readonly whenDone = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly o: ResolvedLoadOptions,
    private readonly emit: (result: LoadResult) => void,
    /** undici's Pool class, when some target needs it (imported lazily: the raw engine does not). */
    PoolClass: typeof Pool | undefined,
    /** Agreed wall-clock start (ms since the epoch, now or a moment ago); undefined = now. */
    startAtMs: number | undefined,
  ) {
    const nowMs = Date.now();
    this.startedAtMs = startAtMs ?? nowMs;
    // The schedule counts from the agreed instant, however late the timer woke us.
    this.clock = createLoopClock(performance.now() - (nowMs - this.startedAtMs));
    ({ targets: this.targets, pools: this.pools } = prepareTargets(o, PoolClass));
    this.targeter = createTargeter(this.targets.length);
    this.maxInflight = o.maxInflight === 0 ? Infinity : o.maxInflight;
    const open = o.rate > 0;
    const pacer = open && o.rateShare ? createSharePacer(o.rate, o.rateShare) : createConstantPacer(open ? o.rate : 1);
    const byDuration = open ? pacer.countWithin(o.durationMs) : Infinity;
    this.total = o.maxRequests > 0 ? Math.min(o.maxRequests, byDuration) : byDuration;
    this.seqOf = pacer.seqOf;
    this.loop = open
      ? createOpenLoop(
          pacer,
          { total: this.total, durationMs: o.durationMs, maxInflight: this.maxInflight },
          this.clock,
          {
            send: (dueMs) => this.fire(dueMs),
            inflight: () => this.inflight,
            done: (unsent) => {
              this.unsent = unsent;
              this.stopSending();
            },
          },
        )
      : undefined;
  }

  now(): number {
    return this.clock.now();
  }

  start(): void {
    const o = this.o;
    if (o.signal?.aborted) {
      this.sending = false;
      this.interrupted = true;
      this.checkDone();
      return;
    }
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (o.timeoutMs > 0) {
      const sweepMs = Math.min(100, Math.max(5, o.timeoutMs / 20));
      this.timers.push(setInterval(() => this.sweep(), sweepMs));
    }
    if (o.onProgress) {
      const onProgress = o.onProgress;
      const timer = setInterval(() => onProgress(this.progress()), o.progressIntervalMs);
      timer.unref();
      this.timers.push(timer);
    }
    if (this.loop) {
      this.loop.start();
    } else {
      this.timers.push(setTimeout(() => this.stopSending(), o.durationMs));
      const concurrency = Math.min(o.connections * this.pools.length, this.maxInflight, this.total);
      for (let i = 0; i < concurrency && this.sending; i++) this.fire(this.now());
    }
  }

  progress() {
    return {
      elapsedMs: this.now(),
      durationMs: this.o.durationMs,
      sent: this.seq,
      done: this.finished,
      inflight: this.inflight,
      errors: this.errors,
      success: this.success,
      rateAsked: this.o.rate,
    };
  }

  private fire(dueMs: number): void {
    const target = this.targets[this.targeter.next()]!;
    const request = new InflightRequest(this, this.seqOf(this.seq++), dueMs, this.now(), target.bytesOut);
    this.inflight += 1;
    if (this.inflight > this.peakInflight) this.peakInflight = this.inflight;
    if (this.o.timeoutMs > 0) this.queue.push(request);
    try {
      target.send(request);
    } catch (err) {
      // A synchronous dispatch failure is still a result.
      this.finish(request, classifyError(err));
    }
    if (!this.loop && this.seq >= this.total) this.stopSending();
  }

  finish(request: InflightRequest, error: LoadErrorCode | ''): void {
    if (request.done) return;
    request.done = true;
    request.error = error;
    request.latencyMs = this.now() - request.dueMs;
    this.inflight -= 1;
    this.finished += 1;
    if (error !== '') this.errors += 1;
    else if (request.status >= 200 && request.status < 400) this.success += 1;
    this.emit(request);
    if (RESULT_CHANNEL.hasSubscribers) RESULT_CHANNEL.publish(request);
    if (!this.sending) this.checkDone();
    else if (this.loop) this.loop.resume();
    else if (this.seq < this.total) this.fire(this.now());
  }

  /** Times out requests past the deadline; the queue is in sending order, so it stops at the first young one. */
  private sweep(): void {
    const deadline = this.now() - this.o.timeoutMs;
    const q = this.queue;
    while (this.head < q.length) {
      const request = q[this.head]!;
      if (!request.done) {
        if (request.dispatchedMs > deadline) break;
        request.timedOut = true;
        if (request.abort) request.abort(abortError(LOAD_ERROR_CODES.TIMEOUT, 'request timed out'));
        // Still queued in the pool (or the abort was ignored): it ends here all the same.
        this.finish(request, LOAD_ERROR_CODES.TIMEOUT);
      }
      q[this.head++] = undefined as unknown as InflightRequest;
    }
    if (this.head > 4096 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  private stopSending(): void {
    if (!this.sending) return;
    this.sending = false;
    this.loop?.stop();
    this.checkDone();
  }

  private readonly onAbort = (): void => {
    debug('load: interrupted with %d in flight', this.inflight);
    this.interrupted = true;
    this.stopSending();
    if (this.inflight === 0) return;
    const timer = setTimeout(() => this.cancelAll(), this.o.drainMs);
    this.timers.push(timer);
  };

  private cancelAll(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const request = this.queue[i]!;
      if (request.done) continue;
      this.finish(request, LOAD_ERROR_CODES.CANCELED);
      request.abort?.(abortError(LOAD_ERROR_CODES.CANCELED, 'canceled'));
    }
    // Without a timeout there is no queue: destroying the pools errors whatever is left.
    for (const pool of this.pools) void pool.destroy().catch(() => {});
  }

  private checkDone(): void {
    if (this.sending || this.inflight > 0) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.resolveDone();
  }

  async close(): Promise<AttackSummary> {
    await Promise.all(this.pools.map((pool) => (this.interrupted ? pool.destroy() : pool.close()).catch(() => {})));
    return {
      sent: this.seq,
      unsent: this.unsent,
      peakInflight: this.peakInflight,
      connectionCap: this.o.connections * this.pools.length,
      interrupted: this.interrupted,
      startedAtMs: this.startedAtMs,
    };
  }
}

/**
 * The Attacker: sends requests as the pacer (open loop, `rate` > 0) or free connections (closed
 * loop, `rate` 0) allow, and emits exactly one result per request sent. Never throws for a failed
 * request: errors are data in the result.
 */
export async function runAttack(
  options: ResolvedLoadOptions,
  emit: (result: LoadResult) => void,
  /** Called once, just before the first request, with the wall-clock start (ms since the epoch). */
  onStart?: (startedAtMs: number) => void,
): Promise<AttackSummary> {
  const needsUndici = options.targets.some((t) => options.engine === 'undici' || !t.url.startsWith('http:'));
  const PoolClass = needsUndici ? (await import('undici')).Pool : undefined;
  const startAtMs = options.startAtMs;
  const waitMs = startAtMs === undefined ? 0 : startAtMs - Date.now();
  if (waitMs > 0) {
    debug('load: waiting %d ms for the start at %s', waitMs, new Date(startAtMs!).toISOString());
    // Interrupted while waiting: the attack below sees the aborted signal and sends nothing.
    await sleep(waitMs, options.signal).catch(() => {});
  }
  const attack = new Attack(options, emit, PoolClass, startAtMs);
  onStart?.(attack.startedAtMs);
  debug(
    'load: %s engine, %d target(s), rate %d/s for %d ms',
    options.engine,
    options.targets.length,
    options.rate,
    options.durationMs,
  );
  attack.start();
  await attack.whenDone;
  const summary = await attack.close();
  debug('load: sent %d (unsent %d, interrupted %s)', summary.sent, summary.unsent, summary.interrupted);
  return summary;
}
