import { channel } from 'node:diagnostics_channel';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { createTempDir, debug } from '../util/index.js';
import { onProcessExit } from './cleanup.js';
import { formatTimeLocal, renderAccessLogLine, renderErrorLogLine } from './log-format.js';
import { resolveOptions, type ProxyHandle, type ProxyOptions, type ResolvedProxyOptions, type Upstream } from './options.js';
import { mapUpstreamError, type UpstreamFailure, type UpstreamPhase, type UpstreamProtocolError, type UpstreamTimeout } from './upstream-errors.js';
import { UpstreamPool, type ExchangeHandler, type ResponseHead, type UpstreamConnection } from './upstream-pool.js';

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

/** Forwardable response headers of `rawHeaders` (pairs), without hop-by-hop ones and those named in `Connection`. */
function forwardHeaders(rawHeaders: readonly string[], connectionHeader: string | undefined): string[] {
  const named = connectionHeader === undefined ? undefined : new Set(connectionHeader.split(',').map((h) => h.trim().toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || lower === 'x-forwarded-for') continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * The built-in reverse proxy (a node:http server, a node:net client) for when nginx is absent: the same
 * options as {@link runNginx} and the same failure semantics, byte for byte in the logs:
 * connect refused/ENOENT/EAGAIN/reset/premature close → 502, connect/read/send timeout → 504,
 * each written to an nginx-format error log with nginx's wording and level; an access log in
 * {@link ACCESS_LOG_FORMAT}. Headers are forwarded minus hop-by-hop ones, with `X-Forwarded-For`
 * appended; bodies are streamed both ways with backpressure. Upstream connections are pooled
 * (`keepalive` idle ones kept, LIFO like nginx); when a reused pooled connection fails with an
 * error (not a timeout) before any response byte, an idempotent body-less request is retried on
 * another connection, exactly as nginx's `proxy_next_upstream error` does for cached connections;
 * a POST never is.
 *
 * The upstream leg is {@link UpstreamPool} (node:net + a small response parser), not node:http's
 * client (~3× the CPU per request) nor undici: undici closes a pooled connection early when the
 * upstream sends `Keep-Alive: timeout=N` (as Node servers do), so it would never reuse a
 * connection the upstream is about to close. nginx ignores that hint, and so does the pool: the
 * keep-alive race (cause `keepalive-race`) then happens behind both proxies alike. The pool also
 * says whether a connection was reused, which the retry rule needs.
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
  const writeLine = (fd: number, text: string): void => {
    if (!logsOpen) return;
    try {
      writeSync(fd, text);
    } catch (err) {
      debug('builtin proxy: cannot write a log line: %o', err);
    }
  };
  // Access lines (one per request) are batched: one write per event-loop turn instead of a
  // syscall per request. Error lines stay synchronous: rare, and on disk before the access line.
  let pendingAccess = '';
  let flushScheduled = false;
  const flushAccess = (): void => {
    flushScheduled = false;
    if (pendingAccess === '') return;
    const text = pendingAccess;
    pendingAccess = '';
    writeLine(accessFd, text);
  };
  const closeFds = (): void => {
    flushAccess();
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

  const pool = new UpstreamPool(resolved.upstream, resolved.keepalive);
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  // nginx's error_log level is a threshold: `crit` keeps crit, alert and emerg lines.
  const minSeverity = SEVERITY[resolved.errorLogLevel];
  const ctx: ProxyContext = {
    options: resolved,
    pool,
    connectionIds,
    upstreamPrefix: resolved.upstream.kind === 'unix' ? `http://${resolved.upstream.url}:` : resolved.upstream.url,
    writeError: (line, level) => {
      if (SEVERITY[level] <= minSeverity) writeLine(errorFd, `${line}\n`);
    },
    writeAccess: (line) => {
      pendingAccess += `${line}\n`;
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAccess);
      }
    },
  };

  const server = createServer((req, res) => new ProxyExchange(ctx, req, res).start());
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
    pool.destroy();
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
      pool.destroy();
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
    readAccessLog: () => {
      flushAccess();
      return readFile(accessLogPath, 'utf8');
    },
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
  pool: UpstreamPool;
  connectionIds: WeakMap<Socket, number>;
  /** `$upstream` as nginx prints it before the URI: `http://127.0.0.1:8080`, `http://unix:/run/app.sock:`. */
  upstreamPrefix: string;
  writeError(line: string, level: UpstreamFailure['level']): void;
  writeAccess(line: string): void;
}

/** One upstream attempt's outcome for `$upstream_status` / `$upstream_response_time`. */
interface Attempt {
  status: number | undefined;
  startMs: number;
  /** -1 until the attempt ends. */
  timeMs: number;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** The request head fields the proxy needs, found in one pass over `rawHeaders`. */
interface RequestFacts {
  connection: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  forwardedFor: string | undefined;
  host: string | undefined;
  referer: string | undefined;
  userAgent: string | undefined;
}

/**
 * Reads the few request headers the proxy uses straight from `rawHeaders`: node builds
 * `req.headers` lazily, and building it for every request costs more than this scan.
 */
function readRequestFacts(rawHeaders: readonly string[]): RequestFacts {
  const facts: RequestFacts = {
    connection: undefined,
    contentLength: undefined,
    transferEncoding: undefined,
    forwardedFor: undefined,
    host: undefined,
    referer: undefined,
    userAgent: undefined,
  };
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const value = rawHeaders[i + 1]!;
    switch (rawHeaders[i]!.toLowerCase()) {
      case 'connection':
        facts.connection = facts.connection === undefined ? value : `${facts.connection}, ${value}`;
        break;
      case 'content-length':
        facts.contentLength = value;
        break;
      case 'transfer-encoding':
        facts.transferEncoding = value;
        break;
      case 'x-forwarded-for':
        facts.forwardedFor = facts.forwardedFor === undefined ? value : `${facts.forwardedFor}, ${value}`;
        break;
      case 'host':
        facts.host ??= value;
        break;
      case 'referer':
        facts.referer ??= value;
        break;
      case 'user-agent':
        facts.userAgent ??= value;
        break;
      default:
    }
  }
  return facts;
}

/**
 * One client request through the proxy, across its upstream attempts (a retry is a second
 * attempt). A class, not a nest of closures: its methods are the {@link ExchangeHandler} the
 * upstream connection calls, so a request allocates one object instead of a dozen functions.
 */
class ProxyExchange implements ExchangeHandler {
  private readonly ctx: ProxyContext;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly facts: RequestFacts;
  private readonly startMs = performance.now();
  private readonly startWallMs = Date.now();
  private readonly attempts: Attempt[] = [];
  private readonly requestLine: string;
  private readonly client: string;
  /** The request head for the upstream, built once (a retry sends it again). */
  private readonly head: string;
  private readonly hasBody: boolean;
  /** A body without Content-Length (the client sent it chunked): chunk-coded upstream too. */
  private readonly chunkedBody: boolean;
  private readonly retriable: boolean;
  private bodyBytesSent = 0;
  private logged = false;
  private clientGone = false;
  private bodyPiped = false;

  // The current attempt.
  private connection: UpstreamConnection | undefined;
  private reused = false;
  private record: Attempt | undefined;
  private phase: UpstreamPhase = 'connecting';
  private done = false;
  // One timer per request, re-armed with refresh() (cheaper than a new one per phase or chunk);
  // it reports the phase it was last armed for.
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private timerPhase: UpstreamPhase = 'connecting';

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    const { options } = ctx;
    const facts = (this.facts = readRequestFacts(req.rawHeaders));
    this.requestLine = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
    this.client = req.socket.remoteAddress ?? '-';
    this.hasBody = facts.transferEncoding !== undefined || (facts.contentLength !== undefined && facts.contentLength !== '0');
    this.chunkedBody = this.hasBody && facts.contentLength === undefined;
    this.retriable = options.nextUpstream && IDEMPOTENT.has(req.method ?? '') && !this.hasBody;
    this.head = this.renderUpstreamHead();
    res.on('close', () => this.onClientClose());
  }

  /** `METHOD URI HTTP/1.1`, the forwardable headers, `X-Forwarded-For`, framing and `Connection`. */
  private renderUpstreamHead(): string {
    const { req, facts } = this;
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    const named = facts.connection === undefined ? undefined : new Set(facts.connection.split(',').map((h) => h.trim().toLowerCase()));
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower === 'x-forwarded-for' || named?.has(lower)) continue;
      head += `${name}: ${raw[i + 1]!}\r\n`;
    }
    head += `X-Forwarded-For: ${facts.forwardedFor ? `${facts.forwardedFor}, ${this.client}` : this.client}\r\n`;
    if (this.chunkedBody) head += 'Transfer-Encoding: chunked\r\n';
    // Without a pool nginx speaks HTTP/1.0 with `Connection: close`; with one, plain keep-alive.
    head += this.ctx.options.keepalive === 0 ? 'Connection: close\r\n\r\n' : 'Connection: keep-alive\r\n\r\n';
    return head;
  }

  start(): void {
    this.attempt();
  }

  private attempt(): void {
    this.done = false;
    this.phase = 'connecting';
    this.record = { status: undefined, startMs: performance.now(), timeMs: -1 };
    this.attempts.push(this.record);
    const { connection, reused } = this.ctx.pool.acquire(this, this.req.method ?? 'GET');
    this.connection = connection;
    this.reused = reused;
    if (reused) this.startSending();
    else this.arm(this.ctx.options.connectTimeoutMs, 'connecting');
  }

  private arm(ms: number, what: UpstreamPhase): void {
    this.timerPhase = what;
    if (this.timer !== undefined && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => this.fail({ timeout: this.timerPhase }), ms);
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  onConnect(): void {
    if (!this.done) this.startSending();
  }

  private startSending(): void {
    // nginx's send timeout runs only while a write to the upstream waits; a slow client is not it.
    this.phase = 'sending';
    this.disarm();
    this.connection!.writeHead(this.head, !this.hasBody);
    if (!this.hasBody || this.bodyPiped) return;
    // A request with a body is never retried, so this runs once.
    this.bodyPiped = true;
    const { req } = this;
    req.on('data', (chunk: Buffer) => {
      if (this.done) return;
      if (!this.connection!.writeBody(chunk, this.chunkedBody)) {
        req.pause();
        this.arm(this.ctx.options.sendTimeoutMs, 'sending');
      }
    });
    req.on('end', () => {
      if (!this.done) this.connection!.endBody(this.chunkedBody);
    });
  }

  onDrain(): void {
    if (this.phase === 'sending') this.disarm();
    this.req.resume();
  }

  onRequestSent(): void {
    // An upstream may answer before the request body is complete; then we are past this.
    if (this.done || this.phase !== 'sending') return;
    this.phase = 'reading-header';
    this.arm(this.ctx.options.readTimeoutMs, 'reading-header');
  }

  onHead(head: ResponseHead): void {
    if (this.done || this.clientGone) {
      this.connection!.abort();
      return;
    }
    this.phase = 'reading-body';
    this.record!.status = head.statusCode;
    this.arm(this.ctx.options.readTimeoutMs, 'reading-body');
    const responseHeaders = forwardHeaders(head.rawHeaders, head.connection);
    try {
      this.res.writeHead(head.statusCode, head.statusMessage, responseHeaders as unknown as OutgoingHttpHeaders);
    } catch (err) {
      // The parser rejects what node would refuse to send; should anything slip through, it is
      // the upstream's bad header (a 502), never an exception thrown out of a socket event.
      debug('builtin proxy: cannot forward the response head: %o', err);
      this.phase = 'reading-header';
      this.fail({ protocol: 'invalid header' });
    }
  }

  onData(chunk: Buffer): void {
    this.bodyBytesSent += chunk.length;
    if (this.res.write(chunk)) {
      this.arm(this.ctx.options.readTimeoutMs, 'reading-body');
      return;
    }
    // Waiting on the client is not the upstream's fault: no read timer meanwhile.
    this.disarm();
    const connection = this.connection!;
    connection.pause();
    this.res.once('drain', () => {
      if (this.done) return; // the connection may serve another request by now
      this.arm(this.ctx.options.readTimeoutMs, 'reading-body');
      connection.resume();
    });
  }

  onEnd(lastChunk: Buffer | undefined): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    this.record!.timeMs = performance.now() - this.record!.startMs;
    // The access line is written on the response's `close` (onClientClose).
    if (lastChunk === undefined) {
      this.res.end();
    } else {
      this.bodyBytesSent += lastChunk.length;
      this.res.end(lastChunk);
    }
  }

  onError(error: NodeJS.ErrnoException | UpstreamProtocolError): void {
    this.fail(error);
  }

  private fail(error: NodeJS.ErrnoException | UpstreamTimeout | UpstreamProtocolError): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    const record = this.record!;
    record.timeMs = performance.now() - record.startMs;
    const failure = mapUpstreamError(error, this.phase, this.ctx.options.upstream);
    this.connection!.abort();
    if (this.clientGone) return;
    if (this.phase === 'reading-body') {
      // The head is out already: like nginx, cut the client connection so it sees the truncation.
      this.logFailure(failure, false);
      // nginx has sent the head and the body so far when it closes. node may still hold them:
      // writeHead only stores the head, and writes are corked until the next tick. Send them first.
      const socket = this.res.socket;
      this.res.flushHeaders();
      socket?.uncork();
      this.res.destroy();
      this.logAccess(this.res.statusCode);
      return;
    }
    record.status = failure.status;
    const retry = this.retriable && failure.kind === 'error' && this.reused;
    this.logFailure(failure, retry);
    if (retry) this.attempt();
    else this.sendError(failure.status);
  }

  /** The response is done (`writableFinished`) or the client left first: nginx's 499. */
  private onClientClose(): void {
    const { res } = this;
    if (res.writableFinished) {
      this.logAccess(res.statusCode);
      return;
    }
    this.clientGone = true;
    this.disarm();
    if (!this.done) this.connection?.abort();
    const last = this.attempts[this.attempts.length - 1];
    if (last && last.timeMs < 0) last.timeMs = performance.now() - last.startMs;
    this.logAccess(res.headersSent ? res.statusCode : 499);
  }

  private sendError(status: number): void {
    const page = errorPage(status);
    this.bodyBytesSent = Buffer.byteLength(page);
    this.res.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': this.bodyBytesSent });
    this.res.end(page);
  }

  private logAccess(status: number): void {
    if (this.logged) return;
    this.logged = true;
    let upstreamStatus = '';
    let upstreamTime = '';
    for (const a of this.attempts) {
      const sep = upstreamStatus === '' ? '' : ', ';
      upstreamStatus += `${sep}${a.status ?? '-'}`;
      upstreamTime += `${sep}${seconds(Math.max(0, a.timeMs))}`;
    }
    this.ctx.writeAccess(
      renderAccessLogLine({
        remote_addr: this.client,
        time_local: formatTimeLocal(this.startWallMs),
        request: this.requestLine,
        status,
        body_bytes_sent: this.bodyBytesSent,
        http_referer: this.facts.referer,
        http_user_agent: this.facts.userAgent,
        upstream_status: upstreamStatus,
        upstream_response_time: upstreamTime,
        request_time: seconds(performance.now() - this.startMs),
      }),
    );
  }

  private logFailure(failure: UpstreamFailure, retried: boolean): void {
    const { req, ctx } = this;
    ctx.writeError(
      renderErrorLogLine({
        time: new Date(),
        level: failure.level,
        pid: process.pid,
        connectionId: ctx.connectionIds.get(req.socket) ?? 0,
        message: failure.message,
        client: this.client,
        server: 'localhost',
        request: this.requestLine,
        // nginx's `$upstream` + URI: `http://127.0.0.1:8080/x`, `http://unix:/run/app.sock:/x`.
        upstream: `${ctx.upstreamPrefix}${req.url}`,
        ...(this.facts.host === undefined ? {} : { host: this.facts.host }),
      }),
      failure.level,
    );
    if (upstreamErrorChannel.hasSubscribers) {
      upstreamErrorChannel.publish({ status: failure.status, level: failure.level, message: failure.message, retried, method: req.method, url: req.url });
    }
  }
}
