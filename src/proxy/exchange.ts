import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  checkRequestHeaders,
  parseRequestTarget,
  renderRejection,
  type RequestHeaderFacts,
  type RequestRejection,
  type RequestTarget,
} from '../http1/index.js';
import { debug } from '../util/index.js';
import { errorPage } from './error-pages.js';
import { formatTimeLocal, renderAccessLogLine, renderErrorLogLine } from './log-format.js';
import type { ResolvedProxyOptions } from './options.js';
import type { LogLevel, ProxyLogs } from './proxy-logs.js';
import { RequestBody } from './request-body.js';
import {
  mapUpstreamError,
  type UpstreamFailure,
  type UpstreamPhase,
  type UpstreamProtocolError,
  type UpstreamTimeout,
} from './upstream-errors.js';
import type { ExchangeHandler, ResponseHead, UpstreamConnection, UpstreamPool } from './upstream-pool.js';

/**
 * `diagnostics_channel` named `badgateway:proxy:upstream-error`: one message per upstream failure,
 * `{ status, level, message, retried, method, url }`. Costs nothing without subscribers.
 */
export const upstreamErrorChannel = channel('badgateway:proxy:upstream-error');

/** Hop-by-hop headers (RFC 9110 §7.6.1): a proxy forwards them in neither direction. */
const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Request headers the proxy never copies: the hop-by-hop ones, the ones nginx clears (`Expect`,
 * `Upgrade`, `TE`, `Keep-Alive`), and the ones it re-emits from its own parser's decisions
 * (`Host`, `Content-Length`, `Transfer-Encoding`, `X-Forwarded-For`), so no header sent by a
 * client can change how the upstream frames or routes the request.
 */
const NOT_COPIED = new Set([...HOP_BY_HOP, 'expect', 'host', 'content-length', 'x-forwarded-for']);

/** Response headers the proxy never forwards. */
const NOT_FORWARDED = new Set(HOP_BY_HOP);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The tokens of a `Connection` header, lowercase; undefined without one. */
const connectionTokens = (value: string | undefined): Set<string> | undefined =>
  value === undefined ? undefined : new Set(value.split(',').map((h) => h.trim().toLowerCase()));

/** Forwardable response headers of `rawHeaders` (pairs), without hop-by-hop ones and those named in `Connection`. */
function forwardResponseHeaders(rawHeaders: readonly string[], connectionHeader: string | undefined): string[] {
  const named = connectionTokens(connectionHeader);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (NOT_FORWARDED.has(lower) || named?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/** What every exchange of one built-in proxy shares. */
export interface ProxyContext {
  options: ResolvedProxyOptions;
  pool: UpstreamPool;
  logs: ProxyLogs;
  connectionIds: WeakMap<Socket, number>;
  /** `$upstream` as nginx prints it before the URI: `http://127.0.0.1:8080`, `http://unix:/run/app.sock:`. */
  upstreamPrefix: string;
  /** The exchange reading its request body on a socket: a parse error in that body is its to answer. */
  reading: WeakMap<Socket, ProxyExchange>;
  /** Sockets closing after a refused request: requests pipelined behind it are not served (nginx closes). */
  closing: WeakSet<Socket>;
  /**
   * Requests pipelined behind the one in progress on a socket, waiting their turn: like nginx,
   * one request at a time per connection (RFC 9112 §9.3.2 lets only safe ones run in parallel).
   */
  pipelines: WeakMap<Socket, ProxyExchange[]>;
  /** A fresh path for a request body too big for memory (nginx's `client_body_temp_path`). */
  bodyFile(): string;
}

/**
 * An error-log line about a client connection (no upstream involved), at nginx's level for it
 * (`info` for a refused or timed-out request): skipped, unbuilt, below the log's threshold.
 * `server` is nginx's server name, or its listen address before a request chose one.
 */
export function logClientEvent(
  ctx: ProxyContext,
  socket: Socket,
  message: string,
  level: LogLevel,
  fields: { request?: string; host?: string; server?: string } = {},
): void {
  if (!ctx.logs.wants(level)) return;
  ctx.logs.writeError(
    renderErrorLogLine({
      time: new Date(),
      level,
      pid: process.pid,
      connectionId: ctx.connectionIds.get(socket) ?? 0,
      message,
      client: socket.remoteAddress ?? '-',
      server: fields.server ?? 'localhost',
      ...(fields.request === undefined ? {} : { request: fields.request }),
      ...(fields.host === undefined ? {} : { host: fields.host }),
    }),
    level,
  );
}

/** One upstream attempt's outcome for `$upstream_status` / `$upstream_response_time`. */
interface Attempt {
  status: number | undefined;
  startMs: number;
  /** -1 until the attempt ends. */
  timeMs: number;
}

/** What the one timer of an exchange is waiting for: an upstream phase, or the client. */
type TimerPhase = UpstreamPhase | 'client-body' | 'client-send';

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * One client request through the proxy, across its upstream attempts (a retry is a second
 * attempt). A class, not a nest of closures: its methods are the {@link ExchangeHandler} the
 * upstream connection calls, so a request allocates one object instead of a dozen functions.
 *
 * Its life: the request is checked as nginx checks it (refused with nginx's status, never
 * forwarded), its body read whole, then sent upstream with a head the proxy writes itself; the
 * response is relayed with backpressure, under nginx's upstream and client timeouts.
 */
export class ProxyExchange implements ExchangeHandler {
  private readonly ctx: ProxyContext;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly startMs = performance.now();
  private readonly startWallMs = Date.now();
  private readonly attempts: Attempt[] = [];
  private readonly requestLine: string;
  private readonly client: string;
  /** The client sent `Expect: 100-continue`: answer `100 Continue` when the body is wanted. */
  private readonly expectsContinue: boolean;
  private facts: RequestHeaderFacts | undefined;
  private target: RequestTarget | undefined;
  private body: RequestBody | undefined;
  /** The request head for the upstream, built once (a retry sends it again). */
  private head = '';
  private retriable = false;
  private bodyBytesSent = 0;
  private logged = false;
  private started = false;
  private clientGone = false;
  private readingBody = false;
  /** The status logged for a request refused or timed out before any response was sent. */
  private refusedStatus: number | undefined;

  // The current attempt.
  private connection: UpstreamConnection | undefined;
  private sender: { resume(): void; stop(): void } | undefined;
  private reused = false;
  private record: Attempt | undefined;
  private phase: UpstreamPhase = 'connecting';
  private done = false;
  private waitingForClient = false;
  private clientDrainBound = false;
  /** The client socket's unsent bytes when the send timer was armed: less at expiry = progress. */
  private clientBacklog = 0;
  // One timer per request, re-armed with refresh() (cheaper than a new one per phase or chunk);
  // it reports the phase it was last armed for.
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private timerPhase: TimerPhase = 'connecting';

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, expectsContinue = false) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.expectsContinue = expectsContinue;
    this.requestLine = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
    this.client = req.socket.remoteAddress ?? '-';
    res.on('close', () => this.onClientClose());
  }

  /** Runs now, or after the requests pipelined before it on the same connection. */
  enqueue(): void {
    const socket = this.req.socket;
    const waiting = this.ctx.pipelines.get(socket);
    if (waiting) {
      waiting.push(this);
      return;
    }
    this.ctx.pipelines.set(socket, []);
    this.start();
  }

  /** This exchange is over: the next pipelined request on the connection may start. */
  private startNext(): void {
    const socket = this.req.socket;
    const waiting = this.ctx.pipelines.get(socket);
    const next = waiting?.shift();
    if (next === undefined) this.ctx.pipelines.delete(socket);
    else if (this.ctx.closing.has(socket) || socket.destroyed) this.ctx.pipelines.delete(socket);
    else next.start();
  }

  /** Checks the request as nginx does, then reads its body (if any) and goes upstream. */
  private start(): void {
    this.started = true;
    const { req } = this;
    if (req.httpVersionMajor !== 1)
      return this.refuse({ status: 505, message: 'client sent invalid version', stage: 'request line' });
    const target = parseRequestTarget(req.url ?? '', req.method ?? '');
    if ('status' in target) return this.refuse(target);
    const facts = checkRequestHeaders(req.rawHeaders, req.httpVersion);
    if ('status' in facts) return this.refuse(facts);
    this.target = target;
    this.facts = facts;
    // nginx ignores header names with `_` (underscores_in_headers off) and says so at info.
    for (const name of facts.dropped)
      this.logClient(
        `client sent invalid header line: "${this.rawHeader(name)}" while reading client request headers`,
        'info',
      );
    if (facts.transferEncoding !== undefined || facts.contentLength !== undefined) this.readBody();
    else this.goUpstream();
  }

  /** `Name: value` of the first header called `name` (lowercase), as the client sent it. */
  private rawHeader(name: string): string {
    const raw = this.req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return `${raw[i]}: ${raw[i + 1]}`;
    return name;
  }

  /**
   * A request nginx would refuse: its status and page, `Connection: close`, and nothing upstream.
   * Requests pipelined behind it are not served (the connection closes after the answer).
   */
  private refuse(rejection: RequestRejection): void {
    this.logClient(renderRejection(rejection), 'info');
    this.ctx.closing.add(this.req.socket);
    const page = errorPage(rejection.status);
    this.bodyBytesSent = Buffer.byteLength(page);
    this.res.writeHead(rejection.status, {
      'Content-Type': 'text/html',
      'Content-Length': this.bodyBytesSent,
      Connection: 'close',
    });
    this.res.end(page);
  }

  /**
   * node's parser refused the body this exchange was reading (an invalid chunk): the caller writes
   * the answer on the socket; this logs it. Nothing was sent upstream: the body was not complete.
   */
  refuseFromParser(rejection: RequestRejection): void {
    this.logClient(renderRejection(rejection), 'info');
    this.refusedStatus = rejection.status;
    this.bodyBytesSent = 0;
    this.stopReadingBody();
  }

  private readBody(): void {
    const { req, ctx } = this;
    const max = ctx.options.clientMaxBodyBytes;
    const declared = this.facts!.contentLength === undefined ? -1 : Number(this.facts!.contentLength);
    if (max > 0 && declared > max) return this.bodyTooLarge(declared);
    if (this.expectsContinue) this.res.writeContinue();
    const body = (this.body = new RequestBody(ctx.options.clientBodyBufferBytes, ctx.bodyFile));
    this.readingBody = true;
    ctx.reading.set(req.socket, this);
    this.arm(ctx.options.clientBodyTimeoutMs, 'client-body');
    const resume = (): void => {
      if (!this.readingBody) return;
      this.arm(ctx.options.clientBodyTimeoutMs, 'client-body');
      req.resume();
    };
    req.on('data', (chunk: Buffer) => {
      if (!this.readingBody) return;
      if (max > 0 && body.length + chunk.length > max) return this.bodyTooLarge(body.length + chunk.length);
      this.timer?.refresh();
      if (!body.append(chunk, resume)) {
        // Waiting on the disk is not the client's stall.
        this.disarm();
        req.pause();
      }
    });
    req.on('end', () => {
      if (!this.readingBody) return;
      this.stopReadingBody();
      body.complete().then(
        () => {
          if (this.clientGone) return;
          if (body.spilledTo !== undefined)
            this.logClient(`a client request body is buffered to a temporary file ${body.spilledTo}`, 'warn');
          this.goUpstream();
        },
        (err: NodeJS.ErrnoException) => {
          debug('builtin proxy: cannot write a request body to disk: %o', err);
          this.logClient(`write() to "${body.spilledTo}" failed (${err.code ?? err.message})`, 'crit');
          this.refuseStatus(500);
        },
      );
    });
  }

  private stopReadingBody(): void {
    this.readingBody = false;
    this.disarm();
    if (this.ctx.reading.get(this.req.socket) === this) this.ctx.reading.delete(this.req.socket);
  }

  /** nginx: `client intended to send too large body: N bytes` [error], 413. */
  private bodyTooLarge(bytes: number): void {
    this.stopReadingBody();
    this.logClient(`client intended to send too large body: ${bytes} bytes`, 'error');
    this.refuseStatus(413);
  }

  /** Answers `status` with nginx's page and closes the connection (the rest of a body is not read). */
  private refuseStatus(status: RequestRejection['status'] | 500): void {
    this.ctx.closing.add(this.req.socket);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const page = errorPage(status);
    this.bodyBytesSent = Buffer.byteLength(page);
    this.res.writeHead(status, {
      'Content-Type': 'text/html',
      'Content-Length': this.bodyBytesSent,
      Connection: 'close',
    });
    this.res.end(page);
  }

  private goUpstream(): void {
    this.head = this.renderUpstreamHead();
    this.retriable = this.ctx.options.nextUpstream && IDEMPOTENT.has(this.req.method ?? '');
    this.attempt();
  }

  /**
   * `METHOD /path HTTP/1.1`, then `Host`, the forwardable headers, `X-Forwarded-For`, the body's
   * `Content-Length` and `Connection`, every framing header written by the proxy itself: a
   * `Connection` token can drop a client's custom header, never one of these.
   */
  private renderUpstreamHead(): string {
    const { req } = this;
    const facts = this.facts!;
    const target = this.target!;
    let head = `${req.method} ${target.path} HTTP/1.1\r\n`;
    // An absolute-form target names the host; its Host header is then ignored (RFC 9112 §3.2.2).
    const host = target.authority ?? facts.host;
    if (host !== undefined && host !== '') head += `Host: ${host}\r\n`;
    const named = connectionTokens(facts.connection);
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (NOT_COPIED.has(lower) || named?.has(lower) || lower.includes('_')) continue;
      head += `${name}: ${raw[i + 1]!}\r\n`;
    }
    head += `X-Forwarded-For: ${facts.forwardedFor ? `${facts.forwardedFor}, ${this.client}` : this.client}\r\n`;
    if (this.body !== undefined) head += `Content-Length: ${this.body.length}\r\n`;
    // Without a pool nginx speaks HTTP/1.0 with `Connection: close`; with one, plain keep-alive.
    head += this.ctx.options.keepalive === 0 ? 'Connection: close\r\n\r\n' : 'Connection: keep-alive\r\n\r\n';
    return head;
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

  private arm(ms: number, what: TimerPhase): void {
    this.timerPhase = what;
    if (this.timer !== undefined && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => this.onTimer(), ms);
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    switch (this.timerPhase) {
      case 'client-body':
        return this.clientTimedOut('reading client request body', 408);
      case 'client-send': {
        // "Between two writes": the client took some bytes since the timer was armed, so wait on.
        const backlog = this.res.socket?.writableLength ?? 0;
        if (backlog > 0 && backlog < this.clientBacklog) {
          this.clientBacklog = backlog;
          this.arm(this.ctx.options.clientSendTimeoutMs, 'client-send');
          return;
        }
        return this.clientTimedOut('sending to client', this.res.statusCode);
      }
      default:
        this.fail({ timeout: this.timerPhase });
    }
  }

  /**
   * nginx's client timeouts: the line at `info`, both legs closed (the upstream connection is not
   * pooled: it may be mid-response), no answer to a client that is not listening.
   */
  private clientTimedOut(while_: string, status: number): void {
    this.logClient(`client timed out (110: Connection timed out) while ${while_}`, 'info');
    this.stopReadingBody();
    this.sender?.stop();
    if (!this.done) this.connection?.abort();
    this.done = true;
    this.refusedStatus = status;
    this.req.socket.destroy();
  }

  onConnect(): void {
    if (!this.done) this.startSending();
  }

  private startSending(): void {
    // nginx's send timeout runs only while a write to the upstream waits.
    this.phase = 'sending';
    this.disarm();
    const connection = this.connection!;
    const body = this.body;
    connection.writeHead(this.head, body === undefined || body.length === 0);
    if (body === undefined || body.length === 0) return;
    this.sender = body.send((chunk) => connection.writeBody(chunk), {
      waiting: () => {
        if (!this.done) this.arm(this.ctx.options.sendTimeoutMs, 'sending');
      },
      done: () => {
        if (!this.done && this.connection === connection) connection.endBody();
      },
      failed: (err) => this.fail(Object.assign(err, { code: 'EIO' })),
    });
  }

  onDrain(): void {
    if (this.phase === 'sending') this.disarm();
    this.sender?.resume();
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
    this.sender?.stop();
    this.phase = 'reading-body';
    this.record!.status = head.statusCode;
    this.arm(this.ctx.options.readTimeoutMs, 'reading-body');
    const responseHeaders = forwardResponseHeaders(head.rawHeaders, head.connection);
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
    if (this.waitingForClient) return;
    // Waiting on the client is not the upstream's fault: the client's send timeout runs instead.
    this.waitingForClient = true;
    this.connection!.pause();
    this.armClientSend();
    if (!this.clientDrainBound) {
      // One listener for the exchange's life, not one per write that filled the buffer.
      this.clientDrainBound = true;
      this.res.on('drain', () => this.onClientDrain());
    }
  }

  private armClientSend(): void {
    this.clientBacklog = this.res.socket?.writableLength ?? 0;
    this.arm(this.ctx.options.clientSendTimeoutMs, 'client-send');
  }

  private onClientDrain(): void {
    if (!this.waitingForClient) return;
    this.waitingForClient = false;
    if (this.done) {
      this.disarm();
      return;
    }
    this.arm(this.ctx.options.readTimeoutMs, 'reading-body');
    this.connection!.resume();
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
    // The upstream is done; a client that does not take the rest still meets the send timeout.
    if (!this.res.writableFinished && (this.res.socket?.writableLength ?? 0) > 0) {
      this.waitingForClient = true;
      this.armClientSend();
      this.res.once('finish', () => this.disarm());
    }
  }

  onError(error: NodeJS.ErrnoException | UpstreamProtocolError): void {
    this.fail(error);
  }

  private fail(error: NodeJS.ErrnoException | UpstreamTimeout | UpstreamProtocolError): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    this.sender?.stop();
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
    // Never started (pipelined behind a request whose connection died): nginx never read it.
    if (!this.started) return;
    this.startNext();
    this.closeClientSide();
  }

  private closeClientSide(): void {
    const { res } = this;
    this.body?.dispose();
    if (this.readingBody) {
      this.stopReadingBody();
      this.clientGone = true;
      this.logClient('client prematurely closed connection while reading client request body', 'info');
      this.logAccess(400);
      return;
    }
    if (this.refusedStatus !== undefined) {
      this.clientGone = true;
      this.logAccess(this.refusedStatus);
      return;
    }
    if (res.writableFinished) {
      this.logAccess(res.statusCode);
      return;
    }
    this.clientGone = true;
    this.disarm();
    this.sender?.stop();
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
    this.ctx.logs.writeAccess(
      renderAccessLogLine({
        remote_addr: this.client,
        time_local: formatTimeLocal(this.startWallMs),
        request: this.requestLine,
        status,
        body_bytes_sent: this.bodyBytesSent,
        http_referer: this.facts?.referer,
        http_user_agent: this.facts?.userAgent,
        upstream_status: upstreamStatus,
        upstream_response_time: upstreamTime,
        request_time: seconds(performance.now() - this.startMs),
      }),
    );
  }

  /** An error-log line about the client side of this request (no upstream involved). */
  private logClient(message: string, level: LogLevel): void {
    logClientEvent(this.ctx, this.req.socket, message, level, {
      request: this.requestLine,
      ...(this.facts?.host === undefined ? {} : { host: this.facts.host }),
    });
  }

  private logFailure(failure: UpstreamFailure, retried: boolean): void {
    const { req, ctx } = this;
    ctx.logs.writeError(
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
        upstream: `${ctx.upstreamPrefix}${this.target!.path}`,
        ...(this.facts?.host === undefined ? {} : { host: this.facts.host }),
      }),
      failure.level,
    );
    if (upstreamErrorChannel.hasSubscribers) {
      upstreamErrorChannel.publish({
        status: failure.status,
        level: failure.level,
        message: failure.message,
        retried,
        method: req.method,
        url: req.url,
      });
    }
  }
}
