import { badOption } from '../errors/index.js';
import { stripUndefined } from '../util/index.js';

/** Where the proxy forwards to: a TCP host:port or a unix socket path. */
export type Upstream =
  | { kind: 'tcp'; host: string; port: number /** `http://HOST:PORT` */; url: string }
  | { kind: 'unix'; path: string /** `unix:/path` */; url: string };

/** Options shared by {@link runNginx} and {@link createProxy}; each maps to one nginx directive. */
export interface ProxyOptions {
  /** Port to listen on (127.0.0.1); 0 picks a free one and reports it in the handle. Default 0. */
  listenPort?: number;
  /** `http://HOST:PORT` (also `HOST:PORT`) or `unix:/path/to.sock`. Required. */
  upstream: string;
  /** Idle upstream keep-alive connections kept per worker (`keepalive N`); 0 = a new connection per request. Default 16. */
  keepalive?: number;
  /** `proxy_connect_timeout` in ms. Default 2000 (nginx: 60 s; shorter so failures show quickly). */
  connectTimeoutMs?: number;
  /** `proxy_read_timeout` in ms: the longest wait between two reads from the upstream. Default 60000. */
  readTimeoutMs?: number;
  /** `proxy_send_timeout` in ms: the longest wait between two writes to the upstream. Default 60000. */
  sendTimeoutMs?: number;
  /**
   * `proxy_next_upstream error timeout` (true, nginx's default) or `off`. With one upstream server it
   * only matters for a reused keep-alive connection that fails: an idempotent request is retried on
   * a fresh connection, a POST never is.
   */
  nextUpstream?: boolean;
  /** `worker_connections` (nginx only; the built-in proxy has no such cap). Default 1024. */
  workerConnections?: number;
  /** nginx `error_log` level. Default `error` (the level of every upstream failure but ENOENT's `crit`). */
  errorLogLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error' | 'crit';
  /**
   * `client_header_timeout` in ms: the longest a client may take to send a request's head (from its
   * first byte, or from the connection's start). nginx's default 60000; a slowloris ends here.
   */
  clientHeaderTimeoutMs?: number;
  /** `client_body_timeout` in ms: the longest wait between two reads of a request body. Default 60000. */
  clientBodyTimeoutMs?: number;
  /** `send_timeout` in ms: the longest wait between two writes to a client that does not read. Default 60000. */
  clientSendTimeoutMs?: number;
  /** `client_max_body_size` in bytes: larger bodies get 413; 0 = no limit. Default 0 (nginx: 1 MiB). */
  clientMaxBodyBytes?: number;
  /**
   * Request bodies are read whole before the upstream is contacted (nginx's
   * `proxy_request_buffering on`): up to this many bytes in memory, the rest in a temp file.
   * Default 1 MiB (nginx's `client_body_buffer_size` is 16 KiB: memory is cheap here, a file per
   * request is not).
   */
  clientBodyBufferBytes?: number;
}

/** Every option with its default; `0` means off where the option says so. */
export const PROXY_DEFAULTS = {
  listenPort: 0,
  keepalive: 16,
  connectTimeoutMs: 2000,
  readTimeoutMs: 60_000,
  sendTimeoutMs: 60_000,
  nextUpstream: true,
  workerConnections: 1024,
  errorLogLevel: 'error',
  clientHeaderTimeoutMs: 60_000,
  clientBodyTimeoutMs: 60_000,
  clientSendTimeoutMs: 60_000,
  clientMaxBodyBytes: 0,
  clientBodyBufferBytes: 1024 * 1024,
} as const satisfies Omit<Required<ProxyOptions>, 'upstream'>;

/** Options with defaults applied and the upstream parsed. */
export interface ResolvedProxyOptions extends Required<Omit<ProxyOptions, 'upstream'>> {
  upstream: Upstream;
}

/** Parses `http://HOST:PORT`, `HOST:PORT` or `unix:/path`; throws `BG_BAD_OPTION` naming `upstream`. */
export function parseUpstream(value: string, option = 'upstream'): Upstream {
  const text = value.trim();
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (!path.startsWith('/')) throw badOption(option, value, 'unix:/absolute/path');
    // nginx's `server unix:...` cannot contain spaces or `;` unquoted, and sun_path is 108 bytes.
    if (/[\s;{}'"]/.test(path) || Buffer.byteLength(path) > 107)
      throw badOption(option, value, 'a unix socket path without spaces, under 108 bytes');
    return { kind: 'unix', path, url: `unix:${path}` };
  }
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw badOption(option, value, 'http://HOST:PORT or unix:/path');
  }
  if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    throw badOption(option, value, 'http://HOST:PORT or unix:/path');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // WHATWG URL drops the default port: `http://app:80` has port ''.
  const port = url.port === '' ? 80 : Number(url.port);
  return { kind: 'tcp', host, port, url: `http://${url.hostname}:${port}` };
}

/** Applies {@link PROXY_DEFAULTS} and validates once; every bad value is a `BG_BAD_OPTION` naming it. */
export function resolveProxyOptions(options: ProxyOptions): ResolvedProxyOptions {
  if (typeof options?.upstream !== 'string')
    throw badOption('upstream', options?.upstream, 'http://HOST:PORT or unix:/path');
  // Only the proxy's own fields: callers pass wider objects (startProxy's kind, lab's specs).
  const given = Object.fromEntries(Object.keys(PROXY_DEFAULTS).map((k) => [k, options[k as keyof ProxyOptions]]));
  const resolved = {
    ...PROXY_DEFAULTS,
    ...stripUndefined(given),
    upstream: parseUpstream(options.upstream),
  } as ResolvedProxyOptions;
  for (const [option, [min, max]] of Object.entries(INTEGER_RANGES)) {
    checkInt(option, resolved[option as keyof typeof INTEGER_RANGES], min, max);
  }
  if (typeof resolved.nextUpstream !== 'boolean')
    throw badOption('nextUpstream', resolved.nextUpstream, 'true or false');
  if (!['debug', 'info', 'notice', 'warn', 'error', 'crit'].includes(resolved.errorLogLevel)) {
    throw badOption('errorLogLevel', resolved.errorLogLevel, 'debug, info, notice, warn, error or crit');
  }
  return resolved;
}

const DAY_MS = 86_400_000;

/** The range of every integer option, checked in this order (the first bad one is named). */
const INTEGER_RANGES = {
  listenPort: [0, 65535],
  keepalive: [0, 100_000],
  connectTimeoutMs: [1, 3_600_000],
  readTimeoutMs: [1, DAY_MS],
  sendTimeoutMs: [1, DAY_MS],
  workerConnections: [8, 1_000_000],
  clientHeaderTimeoutMs: [1, DAY_MS],
  clientBodyTimeoutMs: [1, DAY_MS],
  clientSendTimeoutMs: [1, DAY_MS],
  clientMaxBodyBytes: [0, Number.MAX_SAFE_INTEGER],
  clientBodyBufferBytes: [1024, 1024 ** 3],
} as const satisfies { [K in keyof ResolvedProxyOptions]?: readonly [number, number] };

function checkInt(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badOption(option, value, `an integer from ${min} to ${max}`);
  }
}

/** What both proxies return: the same shape, so lab and doctor never care which one runs. */
export interface ProxyHandle extends AsyncDisposable {
  /** Which proxy runs; also says the layout of `errorLogPath` (nginx's for nginx and builtin). */
  readonly kind: 'nginx' | 'builtin' | 'haproxy' | 'caddy';
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** nginx: the master's pid; built-in: this process. */
  readonly pid: number;
  /** The upstream as given, normalised (`http://HOST:PORT` or `unix:/path`). */
  readonly upstream: string;
  /**
   * nginx-format error log. Lives in a temp dir that `close()` removes: read it (or call
   * {@link readErrorLog}) before closing. Lines are on disk as soon as they are written.
   */
  readonly errorLogPath: string;
  /** Access log in {@link ACCESS_LOG_FORMAT}; same lifetime as the error log. */
  readonly accessLogPath: string;
  /** The error log's text so far ('' when empty). */
  readErrorLog(): Promise<string>;
  /** The access log's text so far. */
  readAccessLog(): Promise<string>;
  /** Stops the proxy (nginx: SIGQUIT, then SIGTERM, then SIGKILL) and removes its temp dir. Idempotent. */
  close(): Promise<void>;
}
