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
import type { Upstream } from './options.js';
import type { UpstreamProtocolError } from './upstream-errors.js';

/** A response head as received: raw header pairs (`[name, value, …]`, latin1 strings). */
export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  rawHeaders: string[];
  /** The `Connection` header's value(s), comma-joined: its tokens name more hop-by-hop headers. */
  connection: string | undefined;
}

/** What one exchange on an upstream connection reports; exactly one of `onEnd`/`onError` ends it. */
export interface ExchangeHandler {
  /** A new connection was established (never called for a reused one). */
  onConnect(): void;
  /** The whole request is in the kernel's send buffer: from here on the upstream owes an answer. */
  onRequestSent(): void;
  /** The send buffer drained after a body write returned false. */
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

/** The largest response head accepted (node:http's client default, `--max-http-header-size`). */
const MAX_HEAD_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a header value or reason phrase may not hold (node's ServerResponse would throw on them). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const EMPTY = Buffer.alloc(0);

/** Where the response parser is. */
const enum State {
  Idle,
  Head,
  BodyLength,
  BodyClose,
  ChunkSize,
  ChunkExtension,
  ChunkData,
  ChunkDataEnd,
  Trailer,
}

/** node's client errors for a FIN at the wrong time; `mapUpstreamError` reads them as a premature close. */
function prematureClose(inBody: boolean): NodeJS.ErrnoException {
  return Object.assign(new Error(inBody ? 'aborted' : 'socket hang up'), { code: 'ECONNRESET' });
}

/** One keep-alive connection to the upstream, reused across exchanges. */
export class UpstreamConnection {
  readonly socket: Socket;
  private readonly pool: UpstreamPool;
  private handler: ExchangeHandler | undefined;
  private state = State.Idle;
  /** A response head split across reads, kept until its end arrives. */
  private partialHead: Buffer | undefined;
  /** Body bytes still expected (Content-Length or the current chunk). */
  private remaining = 0;
  private chunkSizeDigits = 0;
  private trailerLineBytes = 0;
  /** Whether the connection may serve another exchange after this one. */
  private reusable = false;
  private requestSent = false;
  private isHeadRequest = false;
  /** The request wanted the connection kept open (keepalive > 0). */
  private keepAliveRequested = false;

  constructor(pool: UpstreamPool, socket: Socket) {
    this.pool = pool;
    this.socket = socket;
    // Bound once here: per-request closures and listeners were a large part of node:http's cost.
    socket.on('connect', () => this.handler?.onConnect());
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.handler?.onDrain());
    socket.on('end', () => this.onSocketEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    socket.on('close', () => {
      this.pool.forget(this);
      // Destroyed without an error or FIN seen (e.g. by the kernel under us): still a premature close.
      if (this.handler) this.fail(prematureClose(this.state !== State.Head));
    });
  }

  /** Starts an exchange: the caller writes the request with {@link writeHead}/{@link writeBody}. */
  begin(handler: ExchangeHandler, method: string, keepAlive: boolean): void {
    this.handler = handler;
    this.state = State.Head;
    this.partialHead = undefined;
    this.requestSent = false;
    this.isHeadRequest = method === 'HEAD';
    this.keepAliveRequested = keepAlive;
  }

  /** Writes the request head (one string, latin1 like node's); `last` when no body follows. */
  writeHead(head: string, last: boolean): void {
    this.socket.write(head, 'latin1');
    if (last) this.requestFlushed();
  }

  /** Writes a body chunk (chunk-coded when `chunked`); false = wait for `onDrain`. */
  writeBody(chunk: Buffer, chunked: boolean): boolean {
    if (!chunked) return this.socket.write(chunk);
    if (chunk.length === 0) return true; // a zero-size chunk would end the body
    // Corked: size line, data and CRLF leave in one writev.
    this.socket.cork();
    this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    this.socket.write(chunk);
    const ok = this.socket.write('\r\n', 'latin1');
    this.socket.uncork();
    return ok;
  }

  /** Ends the request body. */
  endBody(chunked: boolean): void {
    if (chunked) this.socket.write('0\r\n\r\n', 'latin1');
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
    this.state = State.Idle;
    this.socket.destroy();
    this.pool.forget(this);
    handler?.onError(error);
  }

  private onSocketEnd(): void {
    // A response framed by the connection's close is complete at the FIN.
    if (this.handler && this.state === State.BodyClose) this.complete();
    else if (this.handler) this.fail(prematureClose(this.state !== State.Head));
    else this.abort(); // an idle pooled connection the upstream closed: out of the pool now
  }

  private complete(lastChunk?: Buffer): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.state = State.Idle;
    if (this.reusable && this.requestSent && !this.socket.destroyed) this.pool.release(this);
    else {
      this.socket.destroy();
      this.pool.forget(this);
    }
    handler.onEnd(lastChunk);
  }

  private onSocketData(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      const handler = this.handler;
      if (!handler) {
        // Bytes nobody asked for (on an idle connection, or after a complete response): unusable.
        this.abort();
        return;
      }
      switch (this.state) {
        case State.Head: {
          const buffered: Buffer = this.partialHead ? Buffer.concat([this.partialHead, data]) : data;
          const end = buffered.indexOf(CRLFCRLF);
          if (end < 0) {
            if (buffered.length > MAX_HEAD_BYTES) return this.fail({ protocol: 'too big header' });
            this.partialHead = buffered;
            return;
          }
          if (end > MAX_HEAD_BYTES) return this.fail({ protocol: 'too big header' });
          this.partialHead = undefined;
          data = buffered.subarray(end + 4);
          const head = this.parseHead(buffered.toString('latin1', 0, end));
          if (head === undefined) return; // failed
          // Interim responses (100 Continue, 103 Early Hints): nginx does not pass them on either.
          if (head.statusCode < 200) {
            this.state = State.Head;
            continue;
          }
          handler.onHead(head);
          if (this.handler !== handler) return; // the handler gave up (client gone)
          if ((this.state as State) === State.Idle) {
            // parseHead set the framing. No body (HEAD, 204, 304, Content-Length: 0); bytes after it make the connection unusable.
            if (data.length > 0) this.reusable = false;
            this.complete();
            return;
          }
          break;
        }
        case State.BodyClose:
          handler.onData(data);
          return;
        case State.BodyLength: {
          const take = Math.min(this.remaining, data.length);
          this.remaining -= take;
          const body = take === data.length ? data : data.subarray(0, take);
          data = take === data.length ? EMPTY : data.subarray(take);
          if (this.remaining === 0) {
            // Anything after the response on a connection we did not ask for: do not reuse it.
            if (data.length > 0) this.reusable = false;
            this.complete(body);
            return;
          }
          handler.onData(body);
          if (this.handler !== handler) return;
          break;
        }
        default:
          data = this.parseChunked(data, handler);
          if (this.handler !== handler) return;
      }
    }
  }

  /** Parses the head (without its blank line) and sets the body framing; undefined after a failure. */
  private parseHead(text: string): ResponseHead | undefined {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status || status[2]!.startsWith('0') || (status[3] !== undefined && INVALID_VALUE.test(status[3]))) {
      this.fail({ protocol: 'no valid HTTP/1.0 header' });
      return undefined;
    }
    const http11 = status[1] === '1';
    const statusCode = Number(status[2]);
    const rawHeaders: string[] = [];
    let connection: string | undefined;
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) {
        this.fail({ protocol: 'invalid header' });
        return undefined;
      }
      const value = line.slice(colon + 1).trim();
      if (INVALID_VALUE.test(value)) {
        this.fail({ protocol: 'invalid header' });
        return undefined;
      }
      rawHeaders.push(name, value);
      // Only three names matter for framing; compare lowercase only at their lengths.
      if (name.length === 10 && name.toLowerCase() === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (contentLength !== undefined && contentLength !== value) {
          this.fail({ protocol: 'invalid header' });
          return undefined;
        }
        contentLength = value;
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      }
    }
    const tokens = connection?.toLowerCase();
    this.reusable = this.keepAliveRequested && (http11 ? !/\bclose\b/.test(tokens ?? '') : /\bkeep-alive\b/.test(tokens ?? ''));
    if (statusCode < 200) {
      // parsed again for the final response
    } else if (this.isHeadRequest || statusCode === 204 || statusCode === 304) {
      this.state = State.Idle;
    } else if (transferEncoding !== undefined) {
      // RFC 9112 §6.3: chunked must be the final coding, else the body runs to the close.
      if (/(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        this.state = State.ChunkSize;
        this.remaining = 0;
        this.chunkSizeDigits = 0;
      } else {
        this.state = State.BodyClose;
        this.reusable = false;
      }
      // Both headers: a smuggling hint. Transfer-Encoding wins (RFC 9112 §6.3), so the length is
      // dropped rather than passed on with a body it does not describe; the connection is not reused.
      if (contentLength !== undefined) {
        this.reusable = false;
        for (let i = rawHeaders.length - 2; i >= 0; i -= 2) {
          if (rawHeaders[i]!.toLowerCase() === 'content-length') rawHeaders.splice(i, 2);
        }
      }
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) {
        this.fail({ protocol: 'invalid header' });
        return undefined;
      }
      this.remaining = Number(contentLength);
      this.state = this.remaining === 0 ? State.Idle : State.BodyLength;
    } else {
      this.state = State.BodyClose;
      this.reusable = false;
    }
    return { statusCode, statusMessage: status[3] ?? '', rawHeaders, connection };
  }

  /** Feeds chunked-coded bytes; returns what is left after the body ended (or EMPTY). */
  private parseChunked(data: Buffer, handler: ExchangeHandler): Buffer {
    let i = 0;
    while (i < data.length) {
      switch (this.state) {
        case State.ChunkSize: {
          const c = data[i++]!;
          const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (digit >= 0) {
            if (++this.chunkSizeDigits > 12) return this.failChunked();
            this.remaining = this.remaining * 16 + digit;
          } else if (this.chunkSizeDigits === 0) {
            return this.failChunked();
          } else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09 || c === 0x0d) {
            this.state = State.ChunkExtension;
          } else if (c === 0x0a) {
            this.endOfSizeLine();
          } else {
            return this.failChunked();
          }
          break;
        }
        case State.ChunkExtension:
          if (data[i++] === 0x0a) this.endOfSizeLine();
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, data.length - i);
          const body = data.subarray(i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          handler.onData(body);
          if (this.handler !== handler) return EMPTY;
          break;
        }
        case State.ChunkDataEnd: {
          const c = data[i++]!;
          if (c === 0x0a) this.startSizeLine();
          else if (c !== 0x0d) return this.failChunked();
          break;
        }
        case State.Trailer: {
          const c = data[i++]!;
          if (c === 0x0a) {
            if (this.trailerLineBytes === 0) {
              if (i < data.length) this.reusable = false;
              this.complete();
              return EMPTY;
            }
            this.trailerLineBytes = 0;
          } else if (c !== 0x0d) {
            this.trailerLineBytes++;
          }
          break;
        }
        default:
          return EMPTY;
      }
    }
    return EMPTY;
  }

  private startSizeLine(): void {
    this.state = State.ChunkSize;
    this.remaining = 0;
    this.chunkSizeDigits = 0;
  }

  private endOfSizeLine(): void {
    if (this.remaining === 0) {
      this.state = State.Trailer;
      this.trailerLineBytes = 0;
    } else {
      this.state = State.ChunkData;
    }
  }

  private failChunked(): Buffer {
    this.fail({ protocol: 'invalid chunked response' });
    return EMPTY;
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
      this.upstream.kind === 'unix' ? connect({ path: this.upstream.path }) : connect({ host: this.upstream.host, port: this.upstream.port, noDelay: true });
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
