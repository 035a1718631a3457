import type { Writable } from 'node:stream';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import type { RateShare } from './pacer.js';
import { createTarget, DEFAULT_METHOD, type Target } from './targets.js';
import type { LoadResult } from './result.js';

/** Progress snapshot handed to `onProgress` about every `progressIntervalMs`. */
export interface LoadProgress {
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** Planned length of the attack in ms (the `durationMs` option). */
  durationMs: number;
  /** Requests handed to the connection pool so far. */
  sent: number;
  /** Requests finished (response, error or timeout). */
  done: number;
  inflight: number;
  /** Finished requests that failed (transport error or timeout). */
  errors: number;
  /** Finished requests with a status of 200–399. */
  success: number;
  /** Asked rate (req/s; 0 = closed loop). */
  rateAsked: number;
}

/** Options of {@link runLoad}. Only `url` (or `targets`) is required; see {@link LOAD_DEFAULTS}. */
export interface LoadOptions {
  /** Target URL (`http://host:port/path`); with `unixSocket`, only its host and path are used. */
  url?: string;
  /** Several targets, used round-robin (overrides `url`, `method`, `headers`, `body` per target). */
  targets?: readonly Target[];
  /** Connect to this unix socket instead of the URL's host:port. */
  unixSocket?: string;
  /** HTTP method for `url` (default GET). */
  method?: string;
  /** Request headers for `url`. */
  headers?: Record<string, string>;
  /** Request body for `url`. */
  body?: string | Uint8Array;
  /**
   * Requests per second (open loop); 0 = as fast as possible with `connections` (closed loop).
   * With `rateShare`, the rate of all the runs together.
   */
  rate?: number;
  /**
   * Wall-clock start of the pacer, ms since the epoch: the run waits until then, and its schedule
   * counts from that instant, so runs on several machines start together. At most
   * {@link START_AT_LIMITS}`.pastMs` in the past (it then starts at once, late requests show as
   * send lag) and `aheadMs` ahead. Default: now.
   */
  startAtMs?: number;
  /**
   * This run sends the `index`-th of `count` interleaved parts of the schedule at `rate` (requests
   * `index-1`, `index-1+count`, …), so `count` runs started together send what one run at `rate` would.
   */
  rateShare?: RateShare;
  /** Length of the attack in ms (default 10 s). */
  durationMs?: number;
  /** Stop after this many requests (0 = no limit, the duration decides). */
  maxRequests?: number;
  /** Whole-request deadline from the moment the request is handed to the pool (default 5 s; 0 = none). */
  timeoutMs?: number;
  /** Reuse connections (default true); false opens a new connection for every request. */
  keepAlive?: boolean;
  /** Cap on open connections per origin (default 100). In closed loop, the concurrency. */
  connections?: number;
  /** Cap on requests in flight; the pacer waits when reached (default 10,000; 0 = none). */
  maxInflight?: number;
  /** Write one NDJSON record per request to this file (streamed; `-` = `resultsStdout`, a `.gz` name = gzip). */
  resultsPath?: string;
  /** Where `resultsPath: '-'` writes (default `process.stdout`). */
  resultsStdout?: Writable;
  /** Stops sending when aborted; requests in flight get `drainMs`, then count as `CANCELED`. */
  signal?: AbortSignal;
  /** How long to wait for requests in flight after an abort (default 1 s). */
  drainMs?: number;
  /** Called about every `progressIntervalMs` while the run lasts. */
  onProgress?: (progress: LoadProgress) => void;
  /** Default 250 ms. */
  progressIntervalMs?: number;
  /** Called with every finished request (the object is reused after the call: copy what you keep). */
  onResult?: (result: LoadResult) => void;
  /** Width of the timeline buckets in ms (default 1000). */
  bucketMs?: number;
  /**
   * HTTP client: `raw` (default; a minimal HTTP/1.1 client on node:net, about twice as fast as
   * undici per request) or `undici` (undici's Pool). https:// targets always use undici.
   */
  engine?: LoadEngine;
}

/** The two HTTP clients the Attacker can drive. */
export type LoadEngine = 'raw' | 'undici';
export const LOAD_ENGINES: readonly LoadEngine[] = ['raw', 'undici'];

/** Named defaults of {@link LoadOptions}. */
export const LOAD_DEFAULTS = {
  method: DEFAULT_METHOD,
  rate: 50,
  durationMs: 10_000,
  maxRequests: 0,
  timeoutMs: 5_000,
  keepAlive: true,
  connections: 100,
  maxInflight: 10_000,
  drainMs: 1_000,
  progressIntervalMs: 250,
  bucketMs: 1_000,
  engine: 'raw' as LoadEngine,
} as const;

/** How far `startAtMs` may lie from this machine's clock. */
export const START_AT_LIMITS = Object.freeze({
  /** Further in the past is a clock or a typo: the run would start with a burst of late requests. */
  pastMs: 1_000,
  /** Further ahead is a mistake (a date, not a time). */
  aheadMs: 24 * 3_600_000,
});

/** {@link LoadOptions} after defaults and validation. */
export interface ResolvedLoadOptions {
  targets: Target[];
  unixSocket: string | undefined;
  rate: number;
  startAtMs: number | undefined;
  rateShare: RateShare | undefined;
  durationMs: number;
  maxRequests: number;
  timeoutMs: number;
  keepAlive: boolean;
  connections: number;
  maxInflight: number;
  resultsPath: string | undefined;
  resultsStdout: Writable | undefined;
  signal: AbortSignal | undefined;
  drainMs: number;
  onProgress: ((progress: LoadProgress) => void) | undefined;
  progressIntervalMs: number;
  onResult: ((result: LoadResult) => void) | undefined;
  bucketMs: number;
  engine: LoadEngine;
}

function check(name: string, value: number, ok: boolean, expected: string): number {
  if (!Number.isFinite(value) || !ok) throw badOption(name, value, expected);
  return value;
}

/** Applies {@link LOAD_DEFAULTS} and validates; throws `BG_BAD_OPTION` naming the option. */
export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  const rate = options.rate ?? LOAD_DEFAULTS.rate;
  const durationMs = options.durationMs ?? LOAD_DEFAULTS.durationMs;
  const maxRequests = options.maxRequests ?? LOAD_DEFAULTS.maxRequests;
  const timeoutMs = options.timeoutMs ?? LOAD_DEFAULTS.timeoutMs;
  const connections = options.connections ?? LOAD_DEFAULTS.connections;
  const maxInflight = options.maxInflight ?? LOAD_DEFAULTS.maxInflight;
  const drainMs = options.drainMs ?? LOAD_DEFAULTS.drainMs;
  const bucketMs = options.bucketMs ?? LOAD_DEFAULTS.bucketMs;
  const progressIntervalMs = options.progressIntervalMs ?? LOAD_DEFAULTS.progressIntervalMs;
  check('rate', rate, rate >= 0, 'requests per second ≥ 0 (0 = as fast as possible)');
  check('durationMs', durationMs, durationMs > 0, 'a duration > 0 ms');
  check('maxRequests', maxRequests, maxRequests >= 0 && Number.isInteger(maxRequests), 'an integer ≥ 0');
  check('timeoutMs', timeoutMs, timeoutMs >= 0, 'ms ≥ 0 (0 = none)');
  check('connections', connections, connections >= 1 && Number.isInteger(connections), 'an integer ≥ 1');
  check('maxInflight', maxInflight, maxInflight >= 0 && Number.isInteger(maxInflight), 'an integer ≥ 0 (0 = none)');
  check('drainMs', drainMs, drainMs >= 0, 'ms ≥ 0');
  check('bucketMs', bucketMs, bucketMs > 0, 'ms > 0');
  check('progressIntervalMs', progressIntervalMs, progressIntervalMs > 0, 'ms > 0');

  const rateShare = checkRateShare(options.rateShare, rate);
  if (options.startAtMs !== undefined) checkStartAt(options.startAtMs, Date.now());

  const engine = options.engine ?? LOAD_DEFAULTS.engine;
  if (!LOAD_ENGINES.includes(engine)) throw badOption('engine', engine, LOAD_ENGINES.join(' or '));
  const unixSocket = options.unixSocket !== undefined;
  // Given targets are checked like a single one: one path from what a user writes to what is sent.
  const targets: Target[] =
    options.targets && options.targets.length > 0
      ? options.targets.map((t) => createTarget(t, { unixSocket }))
      : [
          createTarget(
            { method: options.method, url: options.url, headers: options.headers, body: options.body },
            { unixSocket },
          ),
        ];
  if (options.unixSocket !== undefined && options.unixSocket.length === 0)
    throw badOption('unixSocket', '', 'a socket path');
  return {
    targets,
    unixSocket: options.unixSocket,
    rate,
    startAtMs: options.startAtMs,
    rateShare,
    durationMs,
    maxRequests,
    timeoutMs,
    keepAlive: options.keepAlive ?? LOAD_DEFAULTS.keepAlive,
    connections,
    maxInflight,
    resultsPath: options.resultsPath,
    resultsStdout: options.resultsStdout,
    signal: options.signal,
    drainMs,
    onProgress: options.onProgress,
    progressIntervalMs,
    onResult: options.onResult,
    bucketMs,
    engine,
  };
}

function checkRateShare(share: RateShare | undefined, rate: number): RateShare | undefined {
  if (share === undefined) return undefined;
  const { index, count } = share;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw badOption('rateShare', `${index}/${count}`, 'i/n with 1 ≤ i ≤ n, e.g. 2/3 for the second of three machines');
  }
  if (rate === 0) throw badOption('rateShare', `${index}/${count}`, 'an open-loop run: a --rate above 0 to share');
  return { index, count };
}

/**
 * Throws `BG_BAD_OPTION` when `startAtMs` is more than {@link START_AT_LIMITS} away from `nowMs`,
 * saying by how much: in the past, it is most often two clocks that disagree.
 */
export function checkStartAt(startAtMs: number, nowMs: number): void {
  if (!Number.isFinite(startAtMs)) throw badOption('startAt', startAtMs, 'a time');
  const at = new Date(startAtMs).toISOString();
  const skewS = ((nowMs - startAtMs) / 1000).toFixed(3);
  if (nowMs - startAtMs > START_AT_LIMITS.pastMs) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `--start-at ${at} is ${skewS} s in the past by this machine's clock (${new Date(nowMs).toISOString()})`,
      {
        hint: 'pick a time a few seconds ahead for every machine; if it is ahead on the machine that chose it, the clocks disagree (check NTP: timedatectl, chronyc tracking)',
      },
    );
  }
  if (startAtMs - nowMs > START_AT_LIMITS.aheadMs) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `--start-at ${at} is ${((startAtMs - nowMs) / 3_600_000).toFixed(1)} h ahead of this machine's clock (${new Date(nowMs).toISOString()}): at most 24 h`,
    );
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * `--start-at`: an RFC 3339 time with its offset (`2026-11-30T22:30:00Z`, `…+01:00`) or a unix
 * epoch in seconds (`1796077800`, `1796077800.5`: what `date +%s` prints). Returns ms since the epoch.
 */
export function parseStartAt(text: string): number {
  const value = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(value)) {
    const seconds = Number(value);
    // 1e11 s is the year 5138: such a number is milliseconds.
    if (seconds >= 1e11)
      throw badOption(
        '--start-at',
        text,
        'a unix time in seconds (this looks like milliseconds: drop the last three digits)',
      );
    return Math.round(seconds * 1000);
  }
  const ms = RFC3339.test(value) ? Date.parse(value.toUpperCase().replace(' ', 'T')) : Number.NaN;
  if (!Number.isFinite(ms))
    throw badOption(
      '--start-at',
      text,
      'an RFC 3339 time with its offset, e.g. 2026-11-30T22:30:00Z, or unix seconds, e.g. $(date -d +30sec +%s)',
    );
  return ms;
}

/** `--rate-share i/n`. */
export function parseRateShare(text: string): RateShare {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw badOption('--rate-share', text, 'i/n, e.g. 2/3 for the second of three machines');
  return { index: Number(match[1]), count: Number(match[2]) };
}
