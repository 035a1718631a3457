import { connect, type Socket } from 'node:net';
import { LOAD_ERROR_CODES } from './error-codes.js';

/**
 * The `raw` engine's transport: a connection pool speaking just enough HTTP/1.1 for a load
 * generator (one request in flight per connection, bodies by content-length, chunked or until
 * close, 1xx skipped, HEAD/204/304 without body). Requests are pre-serialised bytes written with
 * one `write()`; responses are scanned, not turned into objects. It exists because undici's
 * general-purpose client costs about twice autocannon's per request, and the load generator must
 * outrun the servers it tests. The handler contract is undici's callback API, so the Attacker
 * drives both engines the same way.
 */

/** Callbacks of one request (the subset of undici's legacy dispatch handler the Attacker uses). */
export interface RawHandler {
  /** Called right before the request is written; calling `abort` inside skips the request. */
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}

/** A request serialised once and written as is. */
export interface RawRequest {
  bytes: Buffer;
  /** HEAD: the response has no body whatever its headers say. */
  head: boolean;
}

export interface RawPoolOptions {
  host: string;
  port: number;
  /** Connect to this unix socket instead of host:port. */
  socketPath?: string;
  /** Max open connections. */
  connections: number;
  /** Close each connection after its response (the request carries `connection: close`). */
  keepAlive: boolean;
  /** Give up a connect after this long (`CONNECT_TIMEOUT`; 0 = the kernel's own, minutes). */
  connectTimeoutMs?: number;
}

/** Serialises a request: request line, Host, the headers, content-length, body. */
export function serializeRequest(
  method: string,
  path: string,
  host: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  keepAlive: boolean,
): RawRequest {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  const names = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  if (!names.has('host')) head += `host: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) continue; // never let a header split the request
    head += `${name}: ${value}\r\n`;
  }
  if (body !== undefined && !names.has('content-length')) head += `content-length: ${body.length}\r\n`;
  else if (body === undefined && (method === 'POST' || method === 'PUT' || method === 'PATCH') && !names.has('content-length')) head += 'content-length: 0\r\n';
  if (!keepAlive && !names.has('connection')) head += 'connection: close\r\n';
  head += '\r\n';
  const bytes = body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
  return { bytes, head: method === 'HEAD' };
}

const enum State {
  Idle,
  Head,
  Length,
  Chunked,
  UntilClose,
}

const enum Chunk {
  Size,
  Data,
  DataEnd,
  Trailer,
}

const MAX_HEAD_BYTES = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

class RawConnection {
  private state = State.Idle;
  private handler: RawHandler | undefined;
  private head = false;
  private buf: Buffer | undefined;
  private remaining = 0;
  private chunk = Chunk.Size;
  private closeAfter = false;
  private error: Error | undefined;
  connected = false;

  constructor(
    private readonly pool: RawPool,
    readonly socket: Socket,
    connectTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    // SYNs into a full TCP accept queue are dropped silently: without a deadline the attempt
    // would hold a pool slot for minutes.
    if (connectTimeoutMs > 0) {
      socket.setTimeout(connectTimeoutMs, () => {
        if (!this.connected) socket.destroy(codedError(LOAD_ERROR_CODES.CONNECT_TIMEOUT, 'connect timed out'));
      });
    }
    socket.on('connect', () => {
      this.connected = true;
      if (connectTimeoutMs > 0) socket.setTimeout(0);
      pool.onConnected(this);
    });
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => this.onClose());
  }

  /** Writes a request; false when the handler aborted it in onConnect (the connection stays free). */
  send(request: RawRequest, handler: RawHandler): boolean {
    let aborted = false;
    handler.onConnect((err) => {
      if (this.handler === handler) {
        this.handler = undefined;
        handler.onError(err ?? codedError(LOAD_ERROR_CODES.CANCELED, 'aborted'));
        this.socket.destroy();
      } else {
        aborted = true;
      }
    });
    if (aborted) return false;
    this.handler = handler;
    this.head = request.head;
    this.state = State.Head;
    this.closeAfter = !this.pool.keepAlive;
    this.socket.write(request.bytes);
    return true;
  }

  private onData(data: Buffer): void {
    let buf = this.buf === undefined ? data : Buffer.concat([this.buf, data]);
    this.buf = undefined;
    const handler = this.handler;
    while (buf.length > 0) {
      if (handler === undefined || this.handler !== handler || this.state === State.Idle) {
        // The response ended (or failed) with bytes left over: with one request per connection
        // in flight these belong to nobody, so the connection is out of step.
        this.socket.destroy();
        return;
      }
      if (this.state === State.Head) {
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) return this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'response head too large'));
          this.buf = buf;
          return;
        }
        if (!this.parseHead(buf, end)) return;
        buf = buf.subarray(end + 4);
        continue;
      }
      if (this.state === State.Length) {
        const n = Math.min(this.remaining, buf.length);
        handler.onData(n === buf.length ? buf : buf.subarray(0, n));
        this.remaining -= n;
        buf = buf.subarray(n);
        if (this.remaining === 0) this.complete();
        continue;
      }
      if (this.state === State.UntilClose) {
        handler.onData(buf);
        return;
      }
      if (this.state === State.Chunked) {
        buf = this.parseChunked(buf);
        continue;
      }
    }
  }

  /** Parses the status line and the few headers that frame the body. */
  private parseHead(buf: Buffer, end: number): boolean {
    const text = buf.toString('latin1', 0, end);
    if (!text.startsWith('HTTP/1.')) {
      this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'not an HTTP/1.x response'));
      return false;
    }
    const status = Number(text.slice(9, 12));
    if (!(status >= 100 && status <= 999)) {
      this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'bad status line'));
      return false;
    }
    if (status < 200 && status !== 101) return true; // 1xx: the real head follows
    let length = -1;
    let chunked = false;
    let start = text.indexOf('\r\n') + 2;
    while (start > 1 && start < text.length) {
      let lineEnd = text.indexOf('\r\n', start);
      if (lineEnd < 0) lineEnd = text.length;
      const c = text.charCodeAt(start) | 0x20;
      if (c === 0x63 /* c */ || c === 0x74 /* t */) {
        const colon = text.indexOf(':', start);
        if (colon > 0 && colon < lineEnd) {
          const name = text.slice(start, colon).trim().toLowerCase();
          const value = text.slice(colon + 1, lineEnd).trim().toLowerCase();
          if (name === 'content-length') length = Number(value);
          else if (name === 'transfer-encoding') chunked = value.endsWith('chunked');
          else if (name === 'connection' && value.includes('close')) this.closeAfter = true;
        }
      }
      start = lineEnd + 2;
    }
    this.handler!.onHeaders(status);
    if (this.head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.complete();
    } else if (chunked) {
      this.state = State.Chunked;
      this.chunk = Chunk.Size;
    } else if (length >= 0) {
      if (!Number.isSafeInteger(length)) {
        this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'bad content-length'));
        return false;
      }
      this.remaining = length;
      this.state = State.Length;
      if (length === 0) this.complete();
    } else {
      this.state = State.UntilClose;
      this.closeAfter = true;
    }
    return true;
  }

  /** Consumes chunked framing from `buf`; returns what is left (stashing partial lines). */
  private parseChunked(buf: Buffer): Buffer {
    while (buf.length > 0 && this.state === State.Chunked) {
      if (this.chunk === Chunk.Data) {
        const n = Math.min(this.remaining, buf.length);
        this.handler!.onData(buf.subarray(0, n));
        this.remaining -= n;
        buf = buf.subarray(n);
        if (this.remaining === 0) this.chunk = Chunk.DataEnd;
        continue;
      }
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'chunk line too long'));
        else this.buf = buf;
        return Buffer.alloc(0);
      }
      const line = buf.toString('latin1', 0, eol);
      buf = buf.subarray(eol + 2);
      if (this.chunk === Chunk.DataEnd) {
        if (line !== '') {
          this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'bad chunk end'));
          return Buffer.alloc(0);
        }
        this.chunk = Chunk.Size;
      } else if (this.chunk === Chunk.Size) {
        const size = Number.parseInt(line, 16);
        if (!Number.isSafeInteger(size) || size < 0) {
          this.fail(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, 'bad chunk size'));
          return Buffer.alloc(0);
        }
        if (size === 0) this.chunk = Chunk.Trailer;
        else {
          this.remaining = size;
          this.chunk = Chunk.Data;
        }
      } else if (line === '') {
        this.complete(); // end of trailers
      }
    }
    return buf;
  }

  private complete(): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.state = State.Idle;
    // Free the connection first: a closed loop sends its next request from onComplete.
    if (this.closeAfter) this.socket.destroy();
    else this.pool.release(this);
    handler.onComplete();
  }

  private fail(err: Error): void {
    const handler = this.handler;
    this.handler = undefined;
    this.state = State.Idle;
    this.socket.destroy();
    handler?.onError(err);
  }

  private onClose(): void {
    const handler = this.handler;
    this.handler = undefined;
    if (handler) {
      if (this.state === State.UntilClose && !this.error) {
        this.state = State.Idle;
        handler.onComplete();
      } else {
        handler.onError(this.error ?? codedError(LOAD_ERROR_CODES.CLOSED, 'the server closed the connection before the response ended'));
      }
    }
    this.state = State.Idle;
    this.pool.onClosed(this, this.connected ? undefined : this.error);
  }
}

interface Waiting {
  request: RawRequest;
  handler: RawHandler;
}

/** Connection pool of the raw engine: at most `connections` sockets, FIFO queue when all are busy. */
export class RawPool {
  readonly keepAlive: boolean;
  private readonly idle: RawConnection[] = [];
  private readonly all = new Set<RawConnection>();
  private connecting = 0;
  private waiting: Waiting[] = [];
  private waitingHead = 0;
  private destroyed = false;

  constructor(private readonly o: RawPoolOptions) {
    this.keepAlive = o.keepAlive;
  }

  dispatch(request: RawRequest, handler: RawHandler): void {
    if (this.destroyed) {
      handler.onError(codedError(LOAD_ERROR_CODES.CANCELED, 'pool closed'));
      return;
    }
    const idle = this.idle.pop();
    if (idle && idle.send(request, handler)) return;
    if (idle) this.idle.push(idle);
    this.waiting.push({ request, handler });
    this.grow();
  }

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  private shift(): Waiting | undefined {
    if (this.waitingHead >= this.waiting.length) return undefined;
    const w = this.waiting[this.waitingHead]!;
    this.waiting[this.waitingHead++] = undefined as unknown as Waiting;
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
    return w;
  }

  /** Opens connections for waiting requests, up to the cap. */
  private grow(): void {
    while (!this.destroyed && this.connecting < this.waitingCount() && this.all.size < this.o.connections) {
      const socket = this.o.socketPath !== undefined ? connect({ path: this.o.socketPath }) : connect({ host: this.o.host, port: this.o.port });
      this.connecting += 1;
      this.all.add(new RawConnection(this, socket, this.o.connectTimeoutMs ?? 0));
    }
  }

  onConnected(connection: RawConnection): void {
    this.connecting -= 1;
    this.release(connection);
  }

  /** A connection is free: give it the next waiting request, or park it. */
  release(connection: RawConnection): void {
    for (let w = this.shift(); w; w = this.shift()) {
      if (connection.send(w.request, w.handler)) return;
    }
    this.idle.push(connection);
  }

  onClosed(connection: RawConnection, connectError: Error | undefined): void {
    this.all.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    if (!connection.connected) {
      this.connecting -= 1;
      // A failed connect fails one waiting request (as a fresh client would), the others retry.
      if (connectError) {
        for (let w = this.shift(); w; w = this.shift()) {
          let skipped = false;
          w.handler.onConnect(() => (skipped = true));
          if (skipped) continue;
          w.handler.onError(connectError);
          break;
        }
      }
    }
    this.grow();
  }

  /** Same as destroy(): at the end of a run nothing is in flight any more. */
  close(): Promise<void> {
    return this.destroy();
  }

  /** Closes every connection; waiting requests fail as CANCELED. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    for (let w = this.shift(); w; w = this.shift()) w.handler.onError(codedError(LOAD_ERROR_CODES.CANCELED, 'pool closed'));
    const closing = [...this.all].map((c) => new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', () => resolve()))));
    for (const c of this.all) c.socket.destroy(codedError(LOAD_ERROR_CODES.CANCELED, 'pool closed'));
    await Promise.all(closing);
  }
}
