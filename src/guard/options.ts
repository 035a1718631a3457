import { badOption } from '../errors/index.js';
import { stripUndefined } from '../util/index.js';
import type { ShedReason } from './reasons.js';

/**
 * What the guard sees of a request: a `node:http` `IncomingMessage` satisfies it, and so does the
 * small object the Hono adapter builds on runtimes without one.
 */
export interface GuardRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** The user callbacks a guard calls on the request path. */
export type GuardHook = 'skip' | 'onShed';

/** Options of {@link createGuard}. Every limit: 0 = that rule is off. */
export interface GuardOptions {
  /** Shed when open fds / soft RLIMIT_NOFILE reaches this ratio (0–1). Default 0.9. Linux only. */
  maxFdRatio?: number;
  /** Shed when this many requests are already in flight. Default 0 (off). */
  maxConcurrency?: number;
  /** Shed when the event loop was delayed by this many ms in the last sample window. Default 0 (off). */
  maxEventLoopDelayMs?: number;
  /** Shed when V8 heap used / heap size limit reaches this ratio (0–1). Default 0 (off). */
  maxHeapUsedRatio?: number;
  /**
   * Close idle keep-alive sockets (oldest idle first) when open fds / limit reaches this ratio, so a
   * flood of idle clients cannot starve new ones. Needs `guard.attach(server)`. Default 0.8; keep
   * it below `maxFdRatio` so idle sockets go before requests are refused.
   */
  reapFdRatio?: number;
  /** How often the background sampler reads fds, heap and event-loop delay, in ms. Default 250. */
  sampleIntervalMs?: number;
  /** Seconds sent in `Retry-After` with a 503. Default 5. */
  retryAfterS?: number;
  /** Called for each shed request, before the 503 is written. An error it throws goes to `onError`. */
  onShed?: ((reason: ShedReason, req: GuardRequest) => void) | undefined;
  /**
   * Requests for which this returns true are never shed (health checks, admin endpoints). If it
   * throws, the request counts as not skipped (served or shed as usual) and the error goes to
   * `onError`: a guard never crashes its host.
   */
  skip?: ((req: GuardRequest) => boolean) | undefined;
  /**
   * Gets every error a hook (`skip`, `onShed`) throws, with the hook's name; also published on the
   * `badgateway:guard:hook-error` diagnostics channel. Without it, the first error of each hook is
   * printed once as a process warning (`BG_GUARD_HOOK_ERROR`) and later ones only go to the channel.
   */
  onError?: ((error: unknown, hook: GuardHook) => void) | undefined;
  /**
   * Where fd facts are read from (`<procDir>/fd`, `<procDir>/limits`). Default `/proc/self`.
   * Where it is absent (macOS) the fd rules turn off with one debug message; the others still work.
   */
  procDir?: string;
}

/** Options after {@link resolveGuardOptions}: every field present. */
export interface ResolvedGuardOptions {
  maxFdRatio: number;
  maxConcurrency: number;
  maxEventLoopDelayMs: number;
  maxHeapUsedRatio: number;
  reapFdRatio: number;
  sampleIntervalMs: number;
  retryAfterS: number;
  onShed: ((reason: ShedReason, req: GuardRequest) => void) | undefined;
  skip: ((req: GuardRequest) => boolean) | undefined;
  onError: ((error: unknown, hook: GuardHook) => void) | undefined;
  procDir: string;
}

/** Defaults of {@link createGuard}, in one place. 0 = off. */
export const GUARD_DEFAULTS: Readonly<ResolvedGuardOptions> = Object.freeze({
  maxFdRatio: 0.9,
  maxConcurrency: 0,
  maxEventLoopDelayMs: 0,
  maxHeapUsedRatio: 0,
  reapFdRatio: 0.8,
  sampleIntervalMs: 250,
  retryAfterS: 5,
  onShed: undefined,
  skip: undefined,
  onError: undefined,
  procDir: '/proc/self',
});

function ratio(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw badOption(name, value, 'a ratio from 0 to 1, 0 = off');
  }
  return value;
}

function count(name: string, value: unknown, { min = 0 } = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw badOption(name, value, min === 0 ? 'an integer ≥ 0, 0 = off' : `an integer ≥ ${min}`);
  }
  return value;
}

function fn<T>(name: string, value: T): T {
  if (value !== undefined && typeof value !== 'function') throw badOption(name, typeof value, 'a function');
  return value;
}

/** Fills in {@link GUARD_DEFAULTS} and validates; throws `BG_BAD_OPTION` naming the option. */
export function resolveGuardOptions(options: GuardOptions = {}): ResolvedGuardOptions {
  const o = { ...GUARD_DEFAULTS, ...stripUndefined(options) };
  const resolved: ResolvedGuardOptions = {
    maxFdRatio: ratio('maxFdRatio', o.maxFdRatio),
    maxConcurrency: count('maxConcurrency', o.maxConcurrency),
    maxEventLoopDelayMs: count('maxEventLoopDelayMs', o.maxEventLoopDelayMs),
    maxHeapUsedRatio: ratio('maxHeapUsedRatio', o.maxHeapUsedRatio),
    reapFdRatio: ratio('reapFdRatio', o.reapFdRatio),
    sampleIntervalMs: count('sampleIntervalMs', o.sampleIntervalMs, { min: 10 }),
    retryAfterS: count('retryAfterS', o.retryAfterS),
    onShed: fn('onShed', o.onShed),
    skip: fn('skip', o.skip),
    onError: fn('onError', o.onError),
    procDir:
      typeof o.procDir === 'string' && o.procDir !== ''
        ? o.procDir
        : (() => {
            throw badOption('procDir', o.procDir, 'a directory path');
          })(),
  };
  return resolved;
}
