import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { readFdStats, readUnprivilegedPortStart, type FdStats } from '../proc/index.js';
import { debug, listen } from '../util/index.js';
import { createFdLeak, type FdLeak } from './fd-leak.js';
import {
  DEMO_APP_DEFAULTS,
  MAX_TIMER_MS,
  resolveDemoAppOptions,
  type DemoAppOptions,
  type MetricsSource,
  type ResolvedDemoAppOptions,
} from './options.js';
import { prepareSocketPath, socketPathError } from './socket-file.js';

/** A running demo upstream (in this process). */
export interface DemoApp extends AsyncDisposable {
  readonly server: Server;
  /** `http://127.0.0.1:PORT` (`http://[::1]:PORT` for IPv6) or `unix:/abs/path.sock`. */
  readonly url: string;
  /** The bound TCP port (the real one when asked for 0); absent on a unix socket. */
  readonly port?: number;
  /** Absolute path of the unix socket; absent on TCP. */
  readonly unixSocket?: string;
  /** Pid serving the requests (this process). */
  readonly pid: number;
  /** The options after defaults. */
  readonly options: ResolvedDemoAppOptions;
  /** Times accept() failed in a way libuv did not absorb (it absorbs EMFILE by accept-and-close). */
  readonly acceptErrors: number;
  /** Stops listening, drops every connection (idle keep-alive ones too), closes leaked fds, removes the socket file. */
  close(): Promise<void>;
}

/** Body of `/fds`: src/proc's fd stats with `limit` (the soft limit) and the leak count. */
export interface FdsReport {
  pid: number;
  open: number;
  /** Soft RLIMIT_NOFILE (the one accept() hits); `null` = unlimited. */
  limit: number | null;
  soft: number | null;
  hard: number | null;
  /** open / limit (0 when unlimited). */
  ratio: number;
  byKind: FdStats['byKind'];
  /** Fds held by `/leak`. */
  leaked: number;
}

// Atomics.wait on a private buffer sleeps the thread without burning CPU: the event loop is
// blocked exactly like a sync worker stuck in a request.
const blocker = new Int32Array(new SharedArrayBuffer(4));
function blockFor(ms: number): void {
  if (ms > 0) Atomics.wait(blocker, 0, 0, ms);
}

class QueryError extends Error {}

function queryInt(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new QueryError(`${name}: ${JSON.stringify(raw)} is not valid (expected an integer from ${min} to ${max})`);
  }
  return n;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function sendMetrics(res: ServerResponse, source: MetricsSource): Promise<void> {
  const text = await source.metrics();
  res.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Request-time delays that `close()` can cancel: a timer, or a blocked thread with `sync`. */
interface Waiter {
  wait(ms: number): Promise<void> | void;
  clear(): void;
}

function createWaiter(sync: boolean): Waiter {
  const timers = new Set<NodeJS.Timeout>();
  return {
    wait(ms) {
      if (ms <= 0) return;
      if (sync) return blockFor(ms);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
      });
    },
    clear() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** The app's routes (see {@link createDemoApp}); errors are the caller's to answer. */
function createRoutes(
  opts: ResolvedDemoAppOptions,
  leak: FdLeak,
  waiter: Waiter,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const fdsReport = (): Promise<FdsReport> =>
    leak.withReserve(async () => {
      const stats = await readFdStats(process.pid);
      return {
        pid: stats.pid,
        open: stats.open,
        limit: stats.soft,
        soft: stats.soft,
        hard: stats.hard,
        ratio: stats.ratio,
        byKind: stats.byKind,
        leaked: leak.held,
      };
    });

  // The leak already happened: report it even if /proc cannot be read (a connection took the reserve).
  const fdSummary = (): Promise<{ open: number | null; limit: number | null; ratio: number | null }> =>
    fdsReport().then(
      (fds) => ({ open: fds.open, limit: fds.limit, ratio: fds.ratio }),
      (err: unknown) => {
        debug('cannot read fds: %o', err);
        return { open: null, limit: null, ratio: null };
      },
    );

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    switch (url.pathname) {
      case '/':
        await waiter.wait(opts.workMs);
        return send(res, 200, 'ok\n');
      case '/sleep': {
        const ms = queryInt(url, 'ms', 0, MAX_TIMER_MS, DEMO_APP_DEFAULTS.sleepMs);
        await waiter.wait(ms);
        return send(res, 200, { sleptMs: ms });
      }
      case '/fds':
        return send(res, 200, await fdsReport());
      case '/leak': {
        const n = queryInt(url, 'n', 1, DEMO_APP_DEFAULTS.maxLeakCount, DEMO_APP_DEFAULTS.leakCount);
        const result = leak.leak(n);
        if (result.error) debug('/leak stopped by %s after %d fds (%d held)', result.error, result.leaked, result.held);
        return send(res, 200, { ...result, ...(await fdSummary()) });
      }
      case '/cleanup': {
        const closed = leak.cleanup();
        return send(res, 200, { closed, ...(await fdSummary()) });
      }
      case '/metrics':
        if (!opts.metrics) return send(res, 404, 'not found\n');
        return sendMetrics(res, opts.metrics);
      default:
        return send(res, 404, 'not found\n');
    }
  };
}

/**
 * Binds the server (TCP, or the unix socket made reachable for nginx's workers); returns the
 * socket file's inode, so close() removes only our own file. Errors name the option.
 */
async function bind(server: Server, opts: ResolvedDemoAppOptions): Promise<number | undefined> {
  const socketPath = opts.unixSocket;
  try {
    await listen(
      server,
      socketPath !== undefined
        ? { path: socketPath, backlog: opts.backlog }
        : { port: opts.port, host: opts.host, backlog: opts.backlog },
    );
  } catch (err) {
    throw socketPath !== undefined ? socketPathError(socketPath, err) : tcpListenError(opts, err);
  }
  if (socketPath === undefined) return undefined;
  try {
    await chmod(socketPath, DEMO_APP_DEFAULTS.socketMode);
    return (await lstat(socketPath)).ino;
  } catch (err) {
    server.close();
    throw socketPathError(socketPath, err);
  }
}

/**
 * Starts the demo upstream: `/` (ok, after `workMs`), `/fds`, `/leak?n=`, `/cleanup`,
 * `/sleep?ms=`, `/metrics` (with `metrics`), 404 otherwise. Listens on TCP or a unix socket (a stale socket file is removed
 * first; the file gets mode 0666 so nginx workers running as `nobody` can connect). Throws a
 * `BadgatewayError` naming the option when it cannot listen; nothing is left behind then.
 */
export async function createDemoApp(options: DemoAppOptions = {}): Promise<DemoApp> {
  const opts = resolveDemoAppOptions(options);
  const socketPath = opts.unixSocket;
  if (socketPath !== undefined) await prepareSocketPath(socketPath);

  const leak = createFdLeak();
  const waiter = createWaiter(opts.sync);
  const handle = createRoutes(opts, leak, waiter);
  const server = createServer({ connectionsCheckingInterval: opts.connectionsCheckingIntervalMs }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof QueryError) return send(res, 400, { error: err.message });
      debug('request %s failed: %o', req.url, err);
      send(res, 500, { error: err instanceof Error ? err.message : String(err), code: errnoCode(err) ?? null });
    });
  });
  // 0 = never: Node then sets no idle timer at all, and its periodic headers/request timeout
  // check only looks at connections with a request in progress, so idle sockets stay forever.
  server.keepAliveTimeout = opts.keepAliveTimeoutMs;

  let socketIno: number | undefined;
  try {
    socketIno = await bind(server, opts);
  } catch (err) {
    leak.close();
    throw err;
  }

  let acceptErrors = 0;
  // After listen, an accept() failure libuv could not absorb reaches us as 'error': count it,
  // never crash (an upstream out of fds must keep running to show what the proxy sees).
  server.on('error', (err) => {
    acceptErrors += 1;
    debug('server error: %o', err);
  });

  const address = server.address();
  const port =
    socketPath === undefined && address !== null && typeof address === 'object'
      ? (address as AddressInfo).port
      : undefined;
  const url = socketPath !== undefined ? `unix:${socketPath}` : `http://${connectHost(opts.host)}:${port}`;

  let closed: Promise<void> | undefined;
  const app: DemoApp = {
    server,
    url,
    ...(port !== undefined ? { port } : {}),
    ...(socketPath !== undefined ? { unixSocket: socketPath } : {}),
    pid: process.pid,
    options: opts,
    get acceptErrors() {
      return acceptErrors;
    },
    close() {
      closed ??= (async () => {
        waiter.clear();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
        leak.close();
        if (socketPath !== undefined) await removeOwnSocket(socketPath, socketIno);
      })();
      return closed;
    },
    async [Symbol.asyncDispose]() {
      await app.close();
    },
  };
  return app;
}

/** The address a client uses for `host` (a wildcard bind is reached on loopback). */
function connectHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '::0') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Removes our socket file unless someone replaced it meanwhile (libuv usually unlinked it already). */
async function removeOwnSocket(path: string, ino: number | undefined): Promise<void> {
  try {
    if ((await lstat(path)).ino === ino) await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') debug('cannot remove %s: %o', path, err);
  }
}

function tcpListenError(opts: ResolvedDemoAppOptions, err: unknown): BadgatewayError {
  const code = errnoCode(err);
  const where = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new BadgatewayError(
        ERROR_CODES.ADDRESS_IN_USE,
        `--port ${opts.port}: ${where} is already in use (--port 0 picks a free port)`,
        {
          cause: err,
        },
      );
    case 'EACCES':
      return new BadgatewayError(
        ERROR_CODES.PERMISSION,
        `--port ${opts.port}: binding ${where} needs root (ports below ${readUnprivilegedPortStart()})`,
        {
          cause: err,
        },
      );
    case 'EADDRNOTAVAIL':
      return new BadgatewayError(ERROR_CODES.BAD_OPTION, `--host ${opts.host}: not an address of this machine`, {
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new BadgatewayError(ERROR_CODES.BAD_OPTION, `--host ${opts.host}: cannot resolve it to an address`, {
        cause: err,
      });
    default:
      return new BadgatewayError(
        ERROR_CODES.BAD_OPTION,
        `--host ${opts.host} --port ${opts.port}: cannot listen (${code ?? String(err)})`,
        {
          cause: err,
        },
      );
  }
}
