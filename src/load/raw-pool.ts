import { connect, type Socket } from 'node:net';
import { ResponseParser, type ResponseEvents, type ResponseHead, type ResponseParseError } from '../http1/index.js';
import { LOAD_ERROR_CODES } from './error-codes.js';

/**
 * The `raw` engine's transport: a connection pool for a load generator (one request in flight per
 * connection). Requests are pre-serialised bytes written with one `write()`; responses are framed
 * by the project's one HTTP/1.1 parser (`src/http1/`), not turned into objects. It exists because undici's
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
  /** The method frames the response (a HEAD's has no body whatever its headers say). */
  method: string;
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
  else if (
    body === undefined &&
    (method === 'POST' || method === 'PUT' || method === 'PATCH') &&
    !names.has('content-length')
  )
    head += 'content-length: 0\r\n';
  if (!keepAlive && !names.has('connection')) head += 'connection: close\r\n';
  head += '\r\n';
  const bytes = body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
  return { bytes, method };
}

/**
 * The largest response head accepted. Larger than a proxy's (nginx refuses 4 KiB, node 16 KiB):
 * a load generator measures the server, it does not protect anything behind it.
 */
const MAX_HEAD_BYTES = 64 * 1024;

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One connection of the pool: one request in flight, its response read by the shared
 * {@link ResponseParser} (framing only: `rawHeaders: false`), so the load engine and the proxy
 * agree on what a valid response is. A response the parser refuses is `BAD_RESPONSE`.
 */
class RawConnection implements ResponseEvents {
  private handler: RawHandler | undefined;
  private readonly parser = new ResponseParser(this, { maxHeadBytes: MAX_HEAD_BYTES, rawHeaders: false });
  /** The response in flight lets the connection serve another request. */
  private reusable = false;
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
    socket.on('data', (data: Buffer) => this.onSocketData(data));
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => this.onClose());
  }

  /** Writes a request; false when the handler aborted it in onConnect (the connection stays free). */
  send(request: RawRequest, handler: RawHandler): boolean {
    let aborted = false;
    handler.onConnect((err) => {
      if (this.handler === handler) {
        this.handler = undefined;
        this.parser.stop();
        handler.onError(err ?? codedError(LOAD_ERROR_CODES.CANCELED, 'aborted'));
        this.socket.destroy();
      } else {
        aborted = true;
      }
    });
    if (aborted) return false;
    this.handler = handler;
    this.parser.expect(request.method);
    this.socket.write(request.bytes);
    return true;
  }

  private onSocketData(data: Buffer): void {
    // Bytes while no response is expected belong to nobody: the connection is out of step.
    if (this.handler === undefined || this.parser.idle) this.socket.destroy();
    else this.parser.execute(data);
  }

  // ResponseEvents: what the parser read, passed on to the request's handler.

  onHead(head: ResponseHead): void {
    this.reusable = this.pool.keepAlive && head.keepAlive;
    this.handler!.onHeaders(head.statusCode);
  }

  onData(chunk: Buffer): void {
    this.handler!.onData(chunk);
  }

  onEnd(last: Buffer | undefined, trailing: boolean): void {
    const handler = this.handler!;
    this.handler = undefined;
    if (last !== undefined) handler.onData(last);
    // Free the connection first: a closed loop sends its next request from onComplete.
    if (this.reusable && !trailing) this.pool.release(this);
    else this.socket.destroy();
    handler.onComplete();
  }

  onError(error: ResponseParseError): void {
    const handler = this.handler;
    this.handler = undefined;
    this.socket.destroy();
    handler?.onError(codedError(LOAD_ERROR_CODES.BAD_RESPONSE, `bad response: ${error.reason}`));
  }

  private onClose(): void {
    const handler = this.handler;
    // A body framed by the close is complete now (onEnd runs); anything else ends too early.
    if (handler !== undefined && (this.error !== undefined || !this.parser.finish())) {
      this.handler = undefined;
      this.parser.stop();
      handler.onError(
        this.error ?? codedError(LOAD_ERROR_CODES.CLOSED, 'the server closed the connection before the response ended'),
      );
    }
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
      const socket =
        this.o.socketPath !== undefined
          ? connect({ path: this.o.socketPath })
          : connect({ host: this.o.host, port: this.o.port });
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
    for (let w = this.shift(); w; w = this.shift())
      w.handler.onError(codedError(LOAD_ERROR_CODES.CANCELED, 'pool closed'));
    const closing = [...this.all].map(
      (c) => new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', () => resolve()))),
    );
    for (const c of this.all) c.socket.destroy(codedError(LOAD_ERROR_CODES.CANCELED, 'pool closed'));
    await Promise.all(closing);
  }
}
