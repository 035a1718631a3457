import { channel } from 'node:diagnostics_channel';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { createTempDir, debug } from '../util/index.js';
import { onProcessExit } from './cleanup.js';
import { formatTimeLocal, renderAccessLogLine, renderErrorLogLine } from './log-format.js';
import { resolveOptions, type ProxyHandle, type ProxyOptions, type ResolvedProxyOptions, type Upstream } from './options.js';
import { mapUpstreamError, type UpstreamFailure, type UpstreamPhase, type UpstreamTimeout } from './upstream-errors.js';

/** The built-in proxy's handle: the common {@link ProxyHandle}; `pid` is this process. */
export interface BuiltinProxyHandle extends ProxyHandle {
  readonly kind: 'builtin';
}

/**
 * `diagnostics_channel` named `badgateway:proxy:upstream-error`: one message per upstream failure,
 * `{ status, level, message, retried, method, url }`. Costs nothing without subscribers.
 */
export const upstreamErrorChannel = channel('badgateway:proxy:upstream-error');

/** Hop-by-hop headers (RFC 9110 §7.6.1) a proxy must not forward, plus the ones nginx drops. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** syslog-style severities of nginx's levels: lower is more severe. */
const SEVERITY: Readonly<Record<ResolvedProxyOptions['errorLogLevel'] | UpstreamFailure['level'], number>> = {
  alert: 1,
  crit: 2,
  error: 3,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const REASONS: Record<number, string> = { 502: 'Bad Gateway', 504: 'Gateway Time-out' };

/** The error page, shaped like nginx's (nginx says `504 Gateway Time-out` too). */
function errorPage(status: number): string {
  const title = `${status} ${REASONS[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>badgateway</center>\r\n</body>\r\n</html>\r\n`;
}

/** Forwardable headers of `rawHeaders` (pairs), without hop-by-hop ones and those named in `Connection`. */
function forwardHeaders(rawHeaders: readonly string[], connectionHeader: string | undefined): string[] {
  const named = new Set((connectionHeader ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean));
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || lower === 'x-forwarded-for') continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

const seconds = (ns: bigint): string => (Number(ns / 1000n) / 1e6).toFixed(3);

/**
 * The built-in reverse proxy (node:http server and client) for when nginx is absent: the same
 * options as {@link runNginx} and the same failure semantics, byte for byte in the logs:
 * connect refused/ENOENT/EAGAIN/reset/premature close → 502, connect/read/send timeout → 504,
 * each written to an nginx-format error log with nginx's wording and level; an access log in
 * {@link ACCESS_LOG_FORMAT}. Headers are forwarded minus hop-by-hop ones, with `X-Forwarded-For`
 * appended; bodies are streamed both ways with backpressure. Upstream connections are pooled
 * (`keepalive` idle ones kept, LIFO like nginx); when a reused pooled connection fails with an
 * error (not a timeout) before any response byte, an idempotent body-less request is retried on
 * another connection, exactly as nginx's `proxy_next_upstream error` does for cached connections;
 * a POST never is. node's `ClientRequest.reusedSocket` tells a reused connection from a new one.
 *
 * Why node:http's Agent and not undici for the upstream leg: undici closes a pooled connection
 * early when the upstream sends `Keep-Alive: timeout=N` (as Node servers do), so it would never
 * reuse a connection the upstream is about to close. nginx ignores that hint, and so does the
 * Agent: the keep-alive race (cause `keepalive-race`) then happens behind both proxies alike.
 * It also exposes `reusedSocket`, which the retry rule needs; undici measured ~20% cheaper per
 * request here, not worth losing nginx's semantics.
 */
export async function createProxy(options: ProxyOptions): Promise<BuiltinProxyHandle> {
  const resolved = resolveOptions(options);
  const given = resolved.upstream.url;
  // Like nginx, resolve a host name once at start (a name that does not resolve is a start
  // failure, not a 502 per request) and name the address in the logs.
  resolved.upstream = await resolveUpstreamAddress(resolved.upstream);
  const dir = await createTempDir('proxy');
  const errorLogPath = dir.file('error.log');
  const accessLogPath = dir.file('access.log');
  const errorFd = openSync(errorLogPath, 'a');
  const accessFd = openSync(accessLogPath, 'a');
  // Requests still in flight when close() runs finish after the files are gone: drop their lines.
  let logsOpen = true;
  const writeLine = (fd: number, line: string): void => {
    if (!logsOpen) return;
    try {
      writeSync(fd, `${line}\n`);
    } catch (err) {
      debug('builtin proxy: cannot write a log line: %o', err);
    }
  };
  const closeFds = (): void => {
    logsOpen = false;
    for (const fd of [errorFd, accessFd]) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  };
  const unregister = onProcessExit(() => {
    closeFds();
    dir.closeSync();
  });

  const agent = new Agent({
    keepAlive: resolved.keepalive > 0,
    maxFreeSockets: Math.max(1, resolved.keepalive),
    maxSockets: Number.POSITIVE_INFINITY,
    scheduling: 'lifo',
  });
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  // nginx's error_log level is a threshold: `crit` keeps crit, alert and emerg lines.
  const minSeverity = SEVERITY[resolved.errorLogLevel];
  const ctx: ProxyContext = {
    options: resolved,
    agent,
    connectionIds,
    writeError: (line, level) => {
      if (SEVERITY[level] <= minSeverity) writeLine(errorFd, line);
    },
    writeAccess: (line) => writeLine(accessFd, line),
  };

  const server = createServer((req, res) => handleRequest(ctx, req, res));
  // nginx's client-side defaults: 75 s keep-alive; no whole-request deadline.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  server.on('connection', (socket: Socket) => connectionIds.set(socket, nextConnectionId++));
  server.on('clientError', (err, socket) => {
    debug('builtin proxy: client error %s', errnoCode(err) ?? err.message);
    if (socket.writable && !(err as NodeJS.ErrnoException).code?.startsWith('ECONN')) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: resolved.listenPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    agent.destroy();
    closeFds();
    unregister();
    await dir.close();
    if (errnoCode(err) === 'EADDRINUSE') {
      throw new BadgatewayError(ERROR_CODES.ADDRESS_IN_USE, `port ${resolved.listenPort} on 127.0.0.1 is already in use`, { cause: err });
    }
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : resolved.listenPort;
  const url = `http://127.0.0.1:${port}`;
  debug('builtin proxy listening on %s -> %s', url, resolved.upstream.url);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      closeFds();
      unregister();
      await dir.close();
    })());

  return {
    kind: 'builtin',
    url,
    port,
    pid: process.pid,
    upstream: given,
    errorLogPath,
    accessLogPath,
    readErrorLog: () => readFile(errorLogPath, 'utf8'),
    readAccessLog: () => readFile(accessLogPath, 'utf8'),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A TCP upstream given by name, with its first address (nginx would use every address as a peer). */
async function resolveUpstreamAddress(upstream: Upstream): Promise<Upstream> {
  if (upstream.kind === 'unix' || isIP(upstream.host) !== 0) return upstream;
  let address: string;
  try {
    ({ address } = await lookup(upstream.host));
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `upstream: host not found: "${upstream.host}" (${errnoCode(err) ?? String(err)})`, { cause: err });
  }
  const host = address.includes(':') ? `[${address}]` : address;
  return { kind: 'tcp', host: address, port: upstream.port, url: `http://${host}:${upstream.port}` };
}

interface ProxyContext {
  options: ResolvedProxyOptions;
  agent: Agent;
  connectionIds: WeakMap<Socket, number>;
  writeError(line: string, level: UpstreamFailure['level']): void;
  writeAccess(line: string): void;
}

/** One upstream attempt's outcome for `$upstream_status` / `$upstream_response_time`. */
interface Attempt {
  status: number | undefined;
  startNs: bigint;
  timeNs: bigint;
}

function handleRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const { options } = ctx;
  const startNs = process.hrtime.bigint();
  const startMs = Date.now();
  const attempts: Attempt[] = [];
  const requestLine = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
  const client = req.socket.remoteAddress ?? '-';
  let bodyBytesSent = 0;
  let logged = false;

  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  const retriable = options.nextUpstream && IDEMPOTENT.has(req.method ?? '') && !hasBody;

  const headers = forwardHeaders(req.rawHeaders, req.headers.connection);
  const forwardedFor = req.headers['x-forwarded-for'];
  headers.push('X-Forwarded-For', forwardedFor ? `${Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor}, ${client}` : client);
  // Without a pool nginx speaks HTTP/1.0 with `Connection: close`; with one, plain keep-alive.
  if (options.keepalive === 0) headers.push('Connection', 'close');


  const logAccess = (status: number): void => {
    if (logged) return;
    logged = true;
    ctx.writeAccess(
      renderAccessLogLine({
        remote_addr: client,
        time_local: formatTimeLocal(startMs),
        request: requestLine,
        status,
        body_bytes_sent: bodyBytesSent,
        http_referer: req.headers.referer,
        http_user_agent: req.headers['user-agent'],
        upstream_status: attempts.map((a) => a.status ?? '-').join(', '),
        upstream_response_time: attempts.map((a) => seconds(a.timeNs)).join(', '),
        request_time: seconds(process.hrtime.bigint() - startNs),
      }),
    );
  };

  const logFailure = (failure: UpstreamFailure, retried: boolean): void => {
    ctx.writeError(
      renderErrorLogLine({
        time: new Date(),
        level: failure.level,
        pid: process.pid,
        connectionId: ctx.connectionIds.get(req.socket) ?? 0,
        message: failure.message,
        client,
        server: 'localhost',
        request: requestLine,
        // nginx's `$upstream` + URI: `http://127.0.0.1:8080/x`, `http://unix:/run/app.sock:/x`.
        upstream: options.upstream.kind === 'unix' ? `http://${options.upstream.url}:${req.url}` : `${options.upstream.url}${req.url}`,
        ...(req.headers.host === undefined ? {} : { host: req.headers.host }),
      }),
      failure.level,
    );
    if (upstreamErrorChannel.hasSubscribers) {
      upstreamErrorChannel.publish({ status: failure.status, level: failure.level, message: failure.message, retried, method: req.method, url: req.url });
    }
  };

  const sendError = (status: number): void => {
    const page = errorPage(status);
    bodyBytesSent = Buffer.byteLength(page);
    res.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': bodyBytesSent });
    res.end(page);
    logAccess(status);
  };

  // The client left before we answered: nginx's 499, and the upstream request is abandoned.
  let clientGone = false;
  let current: ClientRequest | undefined;
  res.on('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    current?.destroy();
    const last = attempts[attempts.length - 1];
    if (last && last.timeNs === 0n) last.timeNs = process.hrtime.bigint() - last.startNs;
    logAccess(res.headersSent ? res.statusCode : 499);
  });

  const attempt = (): void => {
    const attemptStart = process.hrtime.bigint();
    const record: Attempt = { status: undefined, startNs: attemptStart, timeNs: 0n };
    attempts.push(record);
    let phase: UpstreamPhase = 'connecting';
    // One timer per attempt, re-armed with refresh() (cheaper than a new one per chunk); it
    // reports the phase it was last armed for.
    let timer: NodeJS.Timeout | undefined;
    let timerMs = 0;
    let timerPhase: UpstreamPhase = 'connecting';
    let done = false;
    const arm = (ms: number, what: UpstreamPhase): void => {
      timerPhase = what;
      if (timer !== undefined && timerMs === ms) {
        timer.refresh();
        return;
      }
      clearTimeout(timer);
      timerMs = ms;
      timer = setTimeout(() => fail({ timeout: timerPhase }), ms);
    };
    const disarm = (): void => {
      clearTimeout(timer);
      timer = undefined;
    };

    const upstreamOptions = {
      method: req.method,
      path: req.url,
      headers: headers as unknown as OutgoingHttpHeaders,
      agent: ctx.agent,
      setHost: false,
      ...(options.upstream.kind === 'unix' ? { socketPath: options.upstream.path } : { host: options.upstream.host, port: options.upstream.port }),
    };
    const upReq = httpRequest(upstreamOptions);
    current = upReq;

    const fail = (error: NodeJS.ErrnoException | UpstreamTimeout): void => {
      if (done) return;
      done = true;
      disarm();
      record.timeNs = process.hrtime.bigint() - attemptStart;
      const failure = mapUpstreamError(error, phase, options.upstream);
      upReq.destroy();
      if (clientGone) return;
      if (phase === 'reading-body') {
        // The head is out already: like nginx, cut the client connection so it sees the truncation.
        logFailure(failure, false);
        res.destroy();
        logAccess(res.statusCode);
        return;
      }
      record.status = failure.status;
      const retry = retriable && failure.kind === 'error' && upReq.reusedSocket;
      logFailure(failure, retry);
      if (retry) attempt();
      else sendError(failure.status);
    };

    upReq.on('error', fail);
    upReq.on('socket', (socket: Socket) => {
      // Small requests and answers: no Nagle delays on the upstream leg (nginx sets TCP_NODELAY too).
      if (options.upstream.kind === 'tcp') socket.setNoDelay(true);
      if (socket.connecting) {
        arm(options.connectTimeoutMs, 'connecting');
        socket.once('connect', () => {
          if (!done) startSending();
        });
      } else {
        startSending();
      }
    });

    const startSending = (): void => {
      // nginx's send timeout runs only while a write to the upstream waits; a slow client is not it.
      phase = 'sending';
      disarm();
      if (!hasBody) {
        upReq.end();
        return;
      }
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        if (!upReq.write(chunk)) {
          req.pause();
          arm(options.sendTimeoutMs, 'sending');
          upReq.once('drain', () => {
            if (phase === 'sending') disarm();
            req.resume();
          });
        }
      });
      req.on('end', () => upReq.end());
    };
    upReq.on('finish', () => {
      // An upstream may answer before the request body is complete; then we are past this.
      if (done || phase !== 'sending') return;
      phase = 'reading-header';
      arm(options.readTimeoutMs, 'reading-header');
    });

    upReq.on('response', (upRes: IncomingMessage) => {
      if (done || clientGone) {
        upRes.destroy();
        return;
      }
      phase = 'reading-body';
      record.status = upRes.statusCode;
      arm(options.readTimeoutMs, 'reading-body');
      const responseHeaders = forwardHeaders(upRes.rawHeaders, upRes.headers.connection);
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders as unknown as OutgoingHttpHeaders);
      upRes.on('data', (chunk: Buffer) => {
        bodyBytesSent += chunk.length;
        if (!res.write(chunk)) {
          // Waiting on the client is not the upstream's fault: no read timer meanwhile.
          disarm();
          upRes.pause();
          res.once('drain', () => {
            arm(options.readTimeoutMs, 'reading-body');
            upRes.resume();
          });
        } else {
          arm(options.readTimeoutMs, 'reading-body');
        }
      });
      upRes.on('end', () => {
        if (done) return;
        done = true;
        disarm();
        record.timeNs = process.hrtime.bigint() - attemptStart;
        res.end(() => logAccess(res.statusCode));
      });
      upRes.on('error', fail);
      upRes.on('aborted', () => fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
    });
  };

  attempt();
}
