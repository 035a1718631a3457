import { listenError } from './free-port.js';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import {
  REQUEST_LIMITS,
  rejectParserError,
  renderRejection,
  type ParserError,
  type RequestRejection,
} from '../http1/index.js';
import { createTempDir, debug, listen } from '../util/index.js';
import { onProcessExit } from './cleanup.js';
import { renderErrorResponse } from './error-pages.js';
import { logClientEvent, ProxyExchange, type ProxyContext } from './exchange.js';
import { formatTimeLocal, renderAccessLogLine } from './log-format.js';
import { resolveProxyOptions, type ProxyHandle, type ProxyOptions, type Upstream } from './options.js';
import { createProxyLogs } from './proxy-logs.js';
import { UpstreamPool } from './upstream-pool.js';

export { upstreamErrorChannel } from './exchange.js';

/** The built-in proxy's handle: the common {@link ProxyHandle}; `pid` is this process. */
export interface BuiltinProxyHandle extends ProxyHandle {
  readonly kind: 'builtin';
}

/**
 * The built-in reverse proxy (a node:http server, a node:net client) for when nginx is absent: the same
 * options as {@link runNginx} and the same failure semantics, byte for byte in the logs:
 * connect refused/ENOENT/EAGAIN/reset/premature close → 502, connect/read/send timeout → 504,
 * each written to an nginx-format error log with nginx's wording and level; an access log in
 * {@link ACCESS_LOG_FORMAT}.
 *
 * Requests are held to nginx's hygiene (see {@link ProxyExchange}): what nginx refuses is refused
 * with nginx's status and never reaches the upstream; bodies are read whole first, then sent with
 * the proxy's own `Content-Length`; `Host`, framing and `X-Forwarded-For` are written by the proxy,
 * never copied; nginx's client timeouts (`client_header_timeout`, `client_body_timeout`,
 * `send_timeout`) apply. Upstream connections are pooled (`keepalive` idle ones kept, LIFO like
 * nginx); when a reused pooled connection fails with an error (not a timeout) before any response
 * byte, an idempotent request is retried on another connection, exactly as nginx's
 * `proxy_next_upstream error` does for cached connections; a POST never is.
 *
 * The upstream leg is {@link UpstreamPool} (node:net + the shared response parser), not node:http's
 * client (~3× the CPU per request) nor undici: undici closes a pooled connection early when the
 * upstream sends `Keep-Alive: timeout=N` (as Node servers do), so it would never reuse a
 * connection the upstream is about to close. nginx ignores that hint, and so does the pool: the
 * keep-alive race (cause `keepalive-race`) then happens behind both proxies alike. The pool also
 * says whether a connection was reused, which the retry rule needs.
 */
export async function createProxy(options: ProxyOptions): Promise<BuiltinProxyHandle> {
  const resolved = resolveProxyOptions(options);
  const given = resolved.upstream.url;
  // Like nginx, resolve a host name once at start (a name that does not resolve is a start
  // failure, not a 502 per request) and name the address in the logs.
  resolved.upstream = await resolveUpstreamAddress(resolved.upstream);
  const dir = await createTempDir('proxy');
  const errorLogPath = dir.file('error.log');
  const accessLogPath = dir.file('access.log');
  const bodyDir = dir.file('client_body');
  mkdirSync(bodyDir, { mode: 0o700 });
  let bodyFiles = 0;
  const logs = createProxyLogs(errorLogPath, accessLogPath, resolved.errorLogLevel);
  const unregister = onProcessExit(() => {
    logs.close();
    dir.closeSync();
  });

  const pool = new UpstreamPool(resolved.upstream, resolved.keepalive);
  const ctx: ProxyContext = {
    options: resolved,
    pool,
    logs,
    connectionIds: new WeakMap(),
    upstreamPrefix: resolved.upstream.kind === 'unix' ? `http://${resolved.upstream.url}:` : resolved.upstream.url,
    reading: new WeakMap(),
    closing: new WeakSet(),
    pipelines: new WeakMap(),
    bodyFile: () => join(bodyDir, String(++bodyFiles).padStart(10, '0')),
  };
  const server = createProxyServer(ctx);

  try {
    await listen(server, { host: '127.0.0.1', port: resolved.listenPort });
  } catch (err) {
    pool.destroy();
    logs.close();
    unregister();
    await dir.close();
    throw listenError(err, resolved.listenPort);
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
      pool.destroy();
      logs.close();
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
    readAccessLog: () => {
      logs.flush();
      return readFile(accessLogPath, 'utf8');
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The client side: node's server (llhttp parses requests; its strict mode refuses ambiguous
 * framing), set to nginx's limits and timeouts, with every request handed to a {@link ProxyExchange}.
 */
function createProxyServer(ctx: ProxyContext): ReturnType<typeof createServer> {
  const { options } = ctx;
  const server = createServer({
    // nginx's large_client_header_buffers (4 × 8k); the per-line limit is checked per request.
    maxHeaderSize: REQUEST_LIMITS.maxHeadBytes,
    // How often node looks for a head past its timeout: often enough that a slowloris ends
    // within a second (or a quarter of a short timeout) of client_header_timeout.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(options.clientHeaderTimeoutMs / 4))),
  });
  // nginx's client-side defaults: 75 s keep-alive; client_header_timeout; no whole-request deadline.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = options.clientHeaderTimeoutMs;
  server.requestTimeout = 0;
  // One more than nginx's max_headers: node silently keeps only this many, so a request with more
  // must still be seen to have more (checkRequestHeaders refuses it), never truncated.
  server.maxHeadersCount = REQUEST_LIMITS.maxHeaders + 1;
  let nextConnectionId = 1;
  const serve = (expectsContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    // A request pipelined behind a refused one: nginx closed the connection after refusing.
    if (ctx.closing.has(req.socket)) return;
    new ProxyExchange(ctx, req, res, expectsContinue).enqueue();
  };
  server.on('request', serve(false));
  // `Expect: 100-continue` is answered when the body is wanted (after the checks), as nginx does;
  // an expectation nginx does not know is ignored, as nginx does (node would answer 417).
  server.on('checkContinue', serve(true));
  server.on('checkExpectation', serve(false));
  server.on('connection', (socket: Socket) => {
    ctx.connectionIds.set(socket, nextConnectionId++);
    socket.on('close', () => ctx.reading.delete(socket));
  });
  // CONNECT: nginx is no forward proxy (400, `client sent invalid request`).
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    answerRefused(
      ctx,
      socket,
      { status: 400, message: 'client sent invalid request', stage: 'request line' },
      `${req.method} ${req.url} HTTP/${req.httpVersion}`,
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException & ParserError, socket: Socket) =>
    onClientError(ctx, err, socket),
  );
  return server;
}

/** What node's parser (or its header timer) refused: answered and logged as nginx would. */
function onClientError(ctx: ProxyContext, err: NodeJS.ErrnoException & ParserError, socket: Socket): void {
  debug('builtin proxy: client error %s', errnoCode(err) ?? err.message);
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // client_header_timeout: nginx closes without an answer; a connection that sent nothing yet
    // was only waiting for a request.
    const started = socket.bytesRead > 0;
    const message = `client timed out (110: Connection timed out) while ${started ? 'reading client request headers' : 'waiting for request'}`;
    // Before a request there is no server block chosen yet: nginx names the listen address.
    logClientEvent(ctx, socket, message, 'info', {
      server: started ? 'localhost' : `${socket.localAddress ?? '127.0.0.1'}:${socket.localPort ?? 0}`,
    });
    if (started) logRefusedAccess(ctx, socket, 408, undefined);
    socket.destroy();
    return;
  }
  if (err.code?.startsWith('ECONN') || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const rejection = rejectParserError(err);
  const exchange = ctx.reading.get(socket);
  if (exchange) {
    // A body this request was reading turned out bad: its exchange logs it; nothing went upstream.
    exchange.refuseFromParser(rejection);
    socket.end(renderErrorResponse(rejection.status));
    return;
  }
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const requestLine = raw.slice(0, Math.max(0, raw.search(/\r?\n/))) || undefined;
  answerRefused(ctx, socket, rejection, requestLine);
}

/** Writes nginx's answer for a refused request straight to the socket, logs it, and closes. */
function answerRefused(
  ctx: ProxyContext,
  socket: Socket,
  rejection: RequestRejection,
  requestLine: string | undefined,
): void {
  logClientEvent(
    ctx,
    socket,
    renderRejection(rejection),
    'info',
    requestLine === undefined ? {} : { request: requestLine },
  );
  // A response already under way on this connection (pipelining) cannot be followed by another.
  const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (current?.headersSent || !socket.writable) {
    socket.destroy();
    return;
  }
  const response = renderErrorResponse(rejection.status);
  logRefusedAccess(
    ctx,
    socket,
    rejection.status,
    requestLine,
    Buffer.byteLength(response) - response.indexOf('\r\n\r\n') - 4,
  );
  socket.end(response);
}

function logRefusedAccess(
  ctx: ProxyContext,
  socket: Socket,
  status: number,
  requestLine: string | undefined,
  bytes = 0,
): void {
  const now = Date.now();
  ctx.logs.writeAccess(
    renderAccessLogLine({
      remote_addr: socket.remoteAddress ?? '-',
      time_local: formatTimeLocal(now),
      request: requestLine,
      status,
      body_bytes_sent: bytes,
      request_time: '0.000',
    }),
  );
}

/** A TCP upstream given by name, with its first address (nginx would use every address as a peer). */
async function resolveUpstreamAddress(upstream: Upstream): Promise<Upstream> {
  if (upstream.kind === 'unix' || isIP(upstream.host) !== 0) return upstream;
  let address: string;
  try {
    ({ address } = await lookup(upstream.host));
  } catch (err) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `upstream: host not found: "${upstream.host}" (${errnoCode(err) ?? String(err)})`,
      { cause: err },
    );
  }
  const host = address.includes(':') ? `[${address}]` : address;
  return { kind: 'tcp', host: address, port: upstream.port, url: `http://${host}:${upstream.port}` };
}
