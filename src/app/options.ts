import { resolve } from 'node:path';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';

/** Options of the demo upstream; every field is optional, {@link DEMO_APP_DEFAULTS} fills the rest. */
export interface DemoAppOptions {
  /** TCP port; 0 = a free port (the library default). The CLI defaults to {@link DEFAULT_CLI_PORT}. */
  port?: number;
  /** TCP address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Listen on this unix socket path instead of TCP (created with mode {@link DEMO_APP_DEFAULTS.socketMode}). */
  unixSocket?: string;
  /** listen(2) backlog; the kernel caps it at `net.core.somaxconn`. Default 511 (Node's). */
  backlog?: number;
  /** Idle keep-alive socket timeout in ms; 0 = never close idle sockets (gevent pywsgi). Default 5000 (Node's). */
  keepAliveTimeoutMs?: number;
  /** Block the event loop for the whole of each request, like a gunicorn sync worker. Default false. */
  sync?: boolean;
  /** Time `/` takes, in ms (blocked in sync mode, a timer otherwise). Default 0, or 50 with `sync`. */
  workMs?: number;
  /**
   * How often Node checks requests in progress against `headersTimeout`/`requestTimeout`, in ms
   * (Node's default 30000). Only tests change it, to show that check never closes idle sockets.
   */
  connectionsCheckingIntervalMs?: number;
  /**
   * Serves `GET /metrics` with what this returns (Prometheus text; `badgateway app --guard` passes
   * the guard's prom-client registry). Default: no `/metrics` (404).
   */
  metrics?: MetricsSource;
}

/** Something that renders Prometheus metrics (a prom-client Registry fits). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Every option resolved. */
export interface ResolvedDemoAppOptions {
  port: number;
  host: string;
  unixSocket: string | undefined;
  backlog: number;
  keepAliveTimeoutMs: number;
  sync: boolean;
  workMs: number;
  connectionsCheckingIntervalMs: number;
  metrics: MetricsSource | undefined;
}

/** Defaults of the demo upstream, in one place. */
export const DEMO_APP_DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  backlog: 511,
  keepAliveTimeoutMs: 5000,
  sync: false,
  workMs: 0,
  /** `workMs` when `sync` is on and no `workMs` is given: the 50 ms requests of the gunicorn seed. */
  syncWorkMs: 50,
  connectionsCheckingIntervalMs: 30_000,
  /** Mode of the unix socket file: nginx workers running as `nobody` must be able to connect. */
  socketMode: 0o666,
  /** `/sleep` without `ms`. */
  sleepMs: 1000,
  /** `/leak` without `n`. */
  leakCount: 1,
  /** Upper bound of `/leak?n=` per request (keeps every loop bounded). */
  maxLeakCount: 1_000_000,
} as const;

/** Default `--port` of `badgateway app` (the library picks a free port instead). */
export const DEFAULT_CLI_PORT = 8080;

/** Largest delay a Node timer accepts; above it Node silently fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Longest unix socket path the kernel takes (`sun_path` is 108 bytes with the NUL); libuv truncates longer ones silently. */
export const MAX_SOCKET_PATH_BYTES = 107;

function checkInt(option: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    // String(), not JSON: NaN must read as NaN, not null.
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `${option}: ${String(value)} is not valid (expected an integer from ${min} to ${max})`,
    );
  }
  return value;
}

/** Fills in defaults and validates; throws `BG_BAD_OPTION` / `BG_BAD_SOCKET_PATH` naming the option. */
export function resolveDemoAppOptions(options: DemoAppOptions = {}): ResolvedDemoAppOptions {
  const sync = options.sync ?? DEMO_APP_DEFAULTS.sync;
  const resolved: ResolvedDemoAppOptions = {
    port: checkInt('--port', options.port ?? DEMO_APP_DEFAULTS.port, 0, 65535),
    host: options.host ?? DEMO_APP_DEFAULTS.host,
    // Absolute, so the printed `unix:` address works from any directory (nginx needs it absolute).
    unixSocket:
      options.unixSocket === undefined || options.unixSocket === '' ? options.unixSocket : resolve(options.unixSocket),
    backlog: checkInt('--backlog', options.backlog ?? DEMO_APP_DEFAULTS.backlog, 1, 65535),
    keepAliveTimeoutMs: checkInt(
      '--keep-alive-timeout',
      options.keepAliveTimeoutMs ?? DEMO_APP_DEFAULTS.keepAliveTimeoutMs,
      0,
      MAX_TIMER_MS,
    ),
    sync,
    workMs: checkInt(
      '--work-ms',
      options.workMs ?? (sync ? DEMO_APP_DEFAULTS.syncWorkMs : DEMO_APP_DEFAULTS.workMs),
      0,
      MAX_TIMER_MS,
    ),
    connectionsCheckingIntervalMs: checkInt(
      'connectionsCheckingIntervalMs',
      options.connectionsCheckingIntervalMs ?? DEMO_APP_DEFAULTS.connectionsCheckingIntervalMs,
      1,
      MAX_TIMER_MS,
    ),
    metrics: options.metrics,
  };
  if (resolved.host.trim() === '') throw badOption('--host', resolved.host, 'an address such as 127.0.0.1 or ::1');
  if (resolved.unixSocket !== undefined) {
    if (resolved.unixSocket === '') throw badOption('--unix-socket', '', 'a file path');
    const bytes = Buffer.byteLength(resolved.unixSocket);
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      throw new BadgatewayError(
        ERROR_CODES.BAD_SOCKET_PATH,
        `--unix-socket ${resolved.unixSocket}: ${bytes} bytes long, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of unix socket paths`,
      );
    }
  }
  return resolved;
}
