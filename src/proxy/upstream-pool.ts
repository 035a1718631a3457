/**
 * The built-in proxy's upstream leg: a pool of keep-alive connections (node:net sockets) and a
 * small HTTP/1.1 response parser, instead of node:http's ClientRequest + Agent.
 *
 * Why not node:http's client: measured here it costs ~140 µs CPU per request on its own (a
 * ClientRequest, an IncomingMessage, a parser taken from and returned to a free list, a dozen
 * listeners added and removed, several nextTicks), three times node's whole server side. The
 * proxy needs little of it: one request head written as one string, a response head parsed
 * into raw header pairs, a body framed by Content-Length, chunked coding or the connection's
 * close. Listeners are attached once per connection, not once per request.
 *
 * What the proxy's nginx semantics need, and this keeps exact:
 * - reused or new: `acquire()` says whether the connection came from the pool (the retry rule);
 * - a FIN before the response is complete is a premature close (`socket hang up`/`aborted`,
 *   the errors node's client gives), a RST is the socket's own `ECONNRESET` with its syscall;
 * - idle pooled connections the upstream closes (or writes to) leave the pool at once, as with
 *   the Agent, so a later request never picks a connection already known to be dead;
 * - nginx's pool is LIFO: the most recently used idle connection is reused first.
 */
import { connect, type Socket } from 'node:net';
import { ResponseParser, type ResponseEvents, type ResponseHead, type ResponseParseError } from '../http1/index.js';
import type { Upstream } from './options.js';
import type { UpstreamProtocolError } from './upstream-errors.js';

export type { ResponseHead } from '../http1/index.js';

/** What one exchange on an upstream connection reports; exactly one of `onEnd`/`onError` ends it. */
export interface ExchangeHandler {
  /** A new connection was established (never called for a reused one). */
  onConnect(): void;
  /** The whole request is in the kernel's send buffer: from here on the upstream owes an answer. */
  onRequestSent(): void;
  /** The send buffer drained after a write returned false. */
  onDrain(): void;
  onHead(head: ResponseHead): void;
  onData(chunk: Buffer): void;
  /**
   * The response is complete; the connection is already back in the pool or closed. `lastChunk`
   * is the body's final piece when it came in the read that completed it (not given to `onData`):
   * the proxy then ends the client's response with it in one call instead of a write and an end.
   */
  onEnd(lastChunk: Buffer | undefined): void;
  /** The exchange failed; the connection is already destroyed. */
  onError(error: NodeJS.ErrnoException | UpstreamProtocolError): void;
}

/**
 * The largest response head accepted: nginx's `proxy_buffer_size` default (one 4 KiB page), past
 * which nginx answers 502 `upstream sent too big header`.
 */
export const MAX_RESPONSE_HEAD_BYTES = 4096;

const EMPTY = Buffer.alloc(0);

/** nginx's words for what the parser refused (`upstream sent …`). */
function protocolError(error: ResponseParseError): UpstreamProtocolError {
  switch (error.reason) {
    case 'bad-status-line':
      return { protocol: 'no valid HTTP/1.0 header' };
    case 'head-too-big':
      return { protocol: 'too big header' };
    case 'bad-chunk':
      return { protocol: 'invalid chunked response' };
    default:
      return { protocol: 'invalid header' };
  }
}

/** node's client errors for a FIN at the wrong time; `mapUpstreamError` reads them as a premature close. */
function prematureClose(inBody: boolean): NodeJS.ErrnoException {
  return Object.assign(new Error(inBody ? 'aborted' : 'socket hang up'), { code: 'ECONNRESET' });
}

/** One keep-alive connection to the upstream, reused across exchanges. */
export class UpstreamConnection implements ResponseEvents {
  readonly socket: Socket;
  private readonly pool: UpstreamPool;
  private readonly parser: ResponseParser;
  private handler: ExchangeHandler | undefined;
  /** Whether the connection may serve another exchange after this one. */
  private reusable = false;
  private requestSent = false;
  /** The request wanted the connection kept open (keepalive > 0). */
  private keepAliveRequested = false;

  constructor(pool: UpstreamPool, socket: Socket) {
    this.pool = pool;
    this.socket = socket;
    this.parser = new ResponseParser(this, { maxHeadBytes: MAX_RESPONSE_HEAD_BYTES });
    // Bound once here: per-request closures and listeners were a large part of node:http's cost.
    socket.on('connect', () => this.handler?.onConnect());
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.handler?.onDrain());
    socket.on('end', () => this.onSocketEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    socket.on('close', () => {
      this.pool.forget(this);
      // Destroyed without an error or FIN seen (e.g. by the kernel under us): still a premature close.
      if (this.handler) this.fail(prematureClose(!this.parser.inHead));
    });
  }

  /** Starts an exchange: the caller writes the request with {@link writeHead}/{@link writeBody}. */
  begin(handler: ExchangeHandler, method: string, keepAlive: boolean): void {
    this.handler = handler;
    this.parser.expect(method);
    this.requestSent = false;
    this.reusable = false;
    this.keepAliveRequested = keepAlive;
  }

  /** Writes the request head (one string, latin1 like node's); `last` when no body follows. */
  writeHead(head: string, last: boolean): void {
    this.socket.write(head, 'latin1');
    if (last) this.requestFlushed();
  }

  /** Writes a piece of the body (framed by the Content-Length in the head); false = wait for `onDrain`. */
  writeBody(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  /** The body is written. */
  endBody(): void {
    this.requestFlushed();
  }

  /** Stops reading (client backpressure) / resumes. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Abandons the exchange (timeout, client gone): the connection is closed, no callback follows. */
  abort(): void {
    this.handler = undefined;
    this.parser.stop();
    this.socket.destroy();
    this.pool.forget(this);
  }

  private requestFlushed(): void {
    // Written synchronously into the kernel (the usual case): sent now. Otherwise an empty write's
    // callback runs once everything before it is flushed.
    if (this.socket.writableLength === 0) this.markSent();
    else this.socket.write(EMPTY, () => this.markSent());
  }

  private markSent(): void {
    if (this.requestSent) return;
    this.requestSent = true;
    this.handler?.onRequestSent();
  }

  private fail(error: NodeJS.ErrnoException | UpstreamProtocolError): void {
    const handler = this.handler;
    this.handler = undefined;
    this.parser.stop();
    this.socket.destroy();
    this.pool.forget(this);
    handler?.onError(error);
  }

  private onSocketEnd(): void {
    if (!this.handler) {
      this.abort(); // an idle pooled connection the upstream closed: out of the pool now
      return;
    }
    // A response framed by the connection's close is complete at the FIN.
    const inHead = this.parser.inHead;
    if (!this.parser.finish()) this.fail(prematureClose(!inHead));
  }

  private onSocketData(chunk: Buffer): void {
    // Bytes nobody asked for (on an idle connection, or after a complete response): unusable.
    if (!this.handler || this.parser.idle) this.abort();
    else this.parser.execute(chunk);
  }

  // ResponseEvents: the parser's findings, passed on to the exchange.

  onHead(head: ResponseHead): void {
    this.reusable = this.keepAliveRequested && head.keepAlive;
    this.handler!.onHead(head);
  }

  onData(chunk: Buffer): void {
    this.handler!.onData(chunk);
  }

  onEnd(last: Buffer | undefined, trailing: boolean): void {
    const handler = this.handler!;
    this.handler = undefined;
    // Anything after the response on a connection we did not ask for: do not reuse it.
    if (this.reusable && !trailing && this.requestSent && !this.socket.destroyed) this.pool.release(this);
    else {
      this.socket.destroy();
      this.pool.forget(this);
    }
    handler.onEnd(last);
  }

  onError(error: ResponseParseError): void {
    this.fail(protocolError(error));
  }
}

/**
 * Connections to one upstream: idle ones kept up to `maxIdle` (nginx's `keepalive N`), reused
 * most-recent first; no cap on busy ones (nginx has none per upstream either).
 */
export class UpstreamPool {
  private readonly upstream: Upstream;
  private readonly maxIdle: number;
  private readonly idle: UpstreamConnection[] = [];
  private readonly busy = new Set<UpstreamConnection>();
  private destroyed = false;

  constructor(upstream: Upstream, maxIdle: number) {
    this.upstream = upstream;
    this.maxIdle = maxIdle;
  }

  /** A connection for `handler`: an idle one (`reused`) or a new one (`onConnect` follows). */
  acquire(handler: ExchangeHandler, method: string): { connection: UpstreamConnection; reused: boolean } {
    const keepAlive = this.maxIdle > 0;
    const pooled = this.idle.pop();
    if (pooled) {
      this.busy.add(pooled);
      pooled.begin(handler, method, keepAlive);
      return { connection: pooled, reused: true };
    }
    // Small requests and answers: no Nagle delays on the upstream leg (nginx sets TCP_NODELAY too).
    const socket =
      this.upstream.kind === 'unix'
        ? connect({ path: this.upstream.path })
        : connect({ host: this.upstream.host, port: this.upstream.port, noDelay: true });
    const connection = new UpstreamConnection(this, socket);
    this.busy.add(connection);
    connection.begin(handler, method, keepAlive);
    return { connection, reused: false };
  }

  /** Back to the pool after a complete exchange (or closed when the pool is full). */
  release(connection: UpstreamConnection): void {
    this.busy.delete(connection);
    if (this.destroyed || this.idle.length >= this.maxIdle) {
      connection.socket.destroy();
      return;
    }
    // Idle, it must read again (a client's backpressure may have paused it) to notice a FIN at once.
    connection.resume();
    this.idle.push(connection);
  }

  /** The connection is gone: out of the pool. */
  forget(connection: UpstreamConnection): void {
    this.busy.delete(connection);
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }

  /** Closes every connection, idle and busy. */
  destroy(): void {
    this.destroyed = true;
    for (const c of [...this.idle, ...this.busy]) c.abort();
    this.idle.length = 0;
    this.busy.clear();
  }
}
