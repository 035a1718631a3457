import type { Server } from 'node:http';
import { badOption } from '../errors/index.js';

/** Stable codes of the warnings {@link hardenServer} and {@link checkServerTimeouts} give. */
export const TIMEOUT_WARNINGS = Object.freeze({
  /** keepAliveTimeout ≤ the proxy's idle timeout: the app may close a socket the proxy reuses → 502. */
  KEEPALIVE_RACE: 'BG_GUARD_KEEPALIVE_RACE',
  /** keepAliveTimeout 0: idle keep-alive sockets are never closed and pile up to the fd limit. */
  KEEPALIVE_LEAK: 'BG_GUARD_KEEPALIVE_LEAK',
  /** headersTimeout ≤ keepAliveTimeout: a reused socket can be cut while a request header arrives. */
  HEADERS_TIMEOUT: 'BG_GUARD_HEADERS_TIMEOUT',
  /** requestTimeout 0 or ≤ headersTimeout: slow request bodies hold sockets forever / headersTimeout never applies. */
  REQUEST_TIMEOUT: 'BG_GUARD_REQUEST_TIMEOUT',
} as const);

export type TimeoutWarningCode = (typeof TIMEOUT_WARNINGS)[keyof typeof TIMEOUT_WARNINGS];

/** One dangerous setting, as data. */
export interface TimeoutWarning {
  code: TimeoutWarningCode;
  message: string;
}

/** A server's timeouts, in ms (Node's names without the unit: 0 = never). */
export interface ServerTimeouts {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface HardenOptions {
  /**
   * Idle timeout of the proxy's upstream keep-alive connections, in ms. nginx `keepalive_timeout`
   * in an `upstream` block and AWS ALB both default to 60 s. Default 60000.
   */
  proxyIdleTimeoutMs?: number;
  /** How much longer than the proxy the app keeps an idle socket, in ms. Default 1000. */
  keepAliveMarginMs?: number;
  /** keepAliveTimeout set explicitly instead of proxy idle + margin (0 = never: warned about). */
  keepAliveTimeoutMs?: number;
  /** Node's requestTimeout (whole request incl. body), in ms. Default: at least 300000 (Node's). */
  requestTimeoutMs?: number;
  /** Receives the warnings; default: `process.emitWarning(message, { code })` for each. */
  onWarning?: (warning: TimeoutWarning) => void;
}

/** Defaults of {@link hardenServer}. */
export const HARDEN_DEFAULTS = Object.freeze({
  proxyIdleTimeoutMs: 60_000,
  keepAliveMarginMs: 1000,
  /** headersTimeout = keepAliveTimeout + this. */
  headersMarginMs: 1000,
  requestTimeoutMs: 300_000,
});

/** The result of {@link hardenServer}: the timeouts now set, and the warnings about them. */
export interface HardenResult extends ServerTimeouts {
  warnings: TimeoutWarning[];
}

/**
 * Pure check of timeouts against a proxy's idle timeout: the settings that cause the keep-alive
 * race (app closes first), the keep-alive leak (never closes), and the headers-timeout trap.
 */
export function checkServerTimeouts(
  t: ServerTimeouts,
  { proxyIdleTimeoutMs = HARDEN_DEFAULTS.proxyIdleTimeoutMs as number }: { proxyIdleTimeoutMs?: number } = {},
): TimeoutWarning[] {
  const warnings: TimeoutWarning[] = [];
  if (t.keepAliveTimeoutMs === 0) {
    warnings.push({
      code: TIMEOUT_WARNINGS.KEEPALIVE_LEAK,
      message:
        'keepAliveTimeout is 0: idle keep-alive sockets are never closed and can use up every fd (new connections then fail → 502/504)',
    });
  } else if (t.keepAliveTimeoutMs <= proxyIdleTimeoutMs) {
    warnings.push({
      code: TIMEOUT_WARNINGS.KEEPALIVE_RACE,
      message: `keepAliveTimeout ${t.keepAliveTimeoutMs} ms ≤ proxy idle timeout ${proxyIdleTimeoutMs} ms: the server can close a kept-alive socket just as the proxy reuses it (502 "upstream prematurely closed connection")`,
    });
  }
  if (t.keepAliveTimeoutMs > 0 && t.headersTimeoutMs > 0 && t.headersTimeoutMs <= t.keepAliveTimeoutMs) {
    warnings.push({
      code: TIMEOUT_WARNINGS.HEADERS_TIMEOUT,
      message: `headersTimeout ${t.headersTimeoutMs} ms ≤ keepAliveTimeout ${t.keepAliveTimeoutMs} ms: set it above keepAliveTimeout`,
    });
  }
  if (t.requestTimeoutMs === 0) {
    warnings.push({
      code: TIMEOUT_WARNINGS.REQUEST_TIMEOUT,
      message: 'requestTimeout is 0: a client sending its request slowly holds a socket (an fd) forever',
    });
  } else if (t.headersTimeoutMs > 0 && t.requestTimeoutMs < t.headersTimeoutMs) {
    warnings.push({
      code: TIMEOUT_WARNINGS.REQUEST_TIMEOUT,
      message: `requestTimeout ${t.requestTimeoutMs} ms < headersTimeout ${t.headersTimeoutMs} ms: set it above headersTimeout`,
    });
  }
  return warnings;
}

/** A server's current timeouts. */
export function readServerTimeouts(server: Server): ServerTimeouts {
  return {
    keepAliveTimeoutMs: server.keepAliveTimeout,
    headersTimeoutMs: server.headersTimeout,
    requestTimeoutMs: server.requestTimeout,
  };
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw badOption(name, value, 'an integer ≥ 0 (ms)');
  return value;
}

/**
 * Sets a `node:http` server's timeouts for life behind a proxy: keepAliveTimeout = proxy idle +
 * margin (the proxy, not the app, closes idle upstream sockets, so it never reuses one the app is
 * closing), headersTimeout = keepAliveTimeout + 1 s, requestTimeout ≥ 300 s and above
 * headersTimeout. Returns the values and the warnings (also passed to `onWarning`).
 *
 * ```ts
 * hardenServer(server, { proxyIdleTimeoutMs: 60_000 }); // nginx upstream keepalive_timeout 60s
 * // → keepAliveTimeout 61000, headersTimeout 62000, requestTimeout 300000
 * ```
 */
export function hardenServer(server: Server, options: HardenOptions = {}): HardenResult {
  const proxyIdleTimeoutMs = nonNegative(
    'proxyIdleTimeoutMs',
    options.proxyIdleTimeoutMs ?? HARDEN_DEFAULTS.proxyIdleTimeoutMs,
  );
  const margin = nonNegative('keepAliveMarginMs', options.keepAliveMarginMs ?? HARDEN_DEFAULTS.keepAliveMarginMs);
  const keepAliveTimeoutMs = nonNegative(
    'keepAliveTimeoutMs',
    options.keepAliveTimeoutMs ?? proxyIdleTimeoutMs + margin,
  );
  // Above keepAliveTimeout, so a request header that starts arriving on a reused socket just
  // before the keep-alive deadline is not cut by the headers deadline.
  const headersTimeoutMs = (keepAliveTimeoutMs || proxyIdleTimeoutMs) + HARDEN_DEFAULTS.headersMarginMs;
  const requestTimeoutMs = nonNegative(
    'requestTimeoutMs',
    options.requestTimeoutMs ?? Math.max(HARDEN_DEFAULTS.requestTimeoutMs, headersTimeoutMs + 1000),
  );
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = requestTimeoutMs;
  const timeouts = { keepAliveTimeoutMs, headersTimeoutMs, requestTimeoutMs };
  const warnings = checkServerTimeouts(timeouts, { proxyIdleTimeoutMs });
  const onWarning = options.onWarning ?? ((w: TimeoutWarning) => process.emitWarning(w.message, { code: w.code }));
  for (const w of warnings) onWarning(w);
  return { ...timeouts, warnings };
}
