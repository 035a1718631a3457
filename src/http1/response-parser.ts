/**
 * One HTTP/1.1 response parser (RFC 9112), a byte state machine fed with whatever each read
 * brings: a head split anywhere, a body framed by Content-Length, chunked coding or the close.
 * It owns the framing rules, so every user of it reads a response the same way:
 * - no body for HEAD, 1xx, 204 and 304, whatever the head says;
 * - Transfer-Encoding wins over Content-Length (the length is then dropped from the head and
 *   the connection is not kept: the pair is a smuggling hint); chunked must be the final
 *   coding, else the body runs to the close;
 * - one valid Content-Length: digits only, repeated copies only if identical (kept once);
 * - interim 1xx heads are skipped; a 101 nobody asked for is an error;
 * - line ends CRLF or a bare LF (nginx accepts bare LF; a bare CR inside a line is an error).
 * Limits are options; events go to one {@link ResponseEvents} object per parser, so a response
 * allocates no closures.
 */

import { BAD_LENGTH, HeadScanner, NO_LENGTH, readHead, type ResponseErrorReason } from './response-head.js';

export type { ResponseErrorReason } from './response-head.js';

export interface ResponseParseError {
  reason: ResponseErrorReason;
  message: string;
}

/** How the body of a response ends. */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

/** A final response head. */
export interface ResponseHead {
  statusCode: number;
  /** The reason phrase; `''` when `rawHeaders: false`. */
  statusMessage: string;
  /** Header pairs `[name, value, …]` (latin1, values trimmed); `[]` when `rawHeaders: false`. */
  rawHeaders: string[];
  /** The `Connection` header's values, comma-joined: its tokens name more hop-by-hop headers. */
  connection: string | undefined;
  /** The response lets the connection carry another exchange (version, `Connection`, framing). */
  keepAlive: boolean;
  framing: Framing;
  /** The body's length for `length` framing, else -1. */
  contentLength: number;
}

/** What the parser reports; exactly one of `onEnd`/`onError` ends a response. */
export interface ResponseEvents {
  onHead(head: ResponseHead): void;
  onData(chunk: Buffer): void;
  /**
   * The response is complete. `last` is the body's final piece when it arrived in the read that
   * completed it (then not given to `onData`); `trailing` says bytes followed the response in
   * that read (they belong to nobody: the connection is out of step).
   */
  onEnd(last: Buffer | undefined, trailing: boolean): void;
  onError(error: ResponseParseError): void;
}

export interface ResponseParserOptions {
  /** The largest head accepted, status line to blank line. Default 16384 (node's own limit). */
  maxHeadBytes?: number;
  /**
   * Collect the header pairs and the reason phrase (a proxy forwards them); `false` reads only what
   * frames the body, still validating every line (a load generator). Default true.
   */
  rawHeaders?: boolean;
}

const EMPTY = Buffer.alloc(0);
const CHUNKED_LAST = /(?:^|,)[ \t]*chunked[ \t]*$/i;
/** More hex digits than this is a size no body has (nginx refuses sizes past off_t too). */
const MAX_CHUNK_SIZE_DIGITS = 12;

const enum State {
  Idle,
  Head,
  BodyLength,
  BodyClose,
  ChunkSize,
  ChunkSizeEnd,
  ChunkSizeCr,
  ChunkExtension,
  ChunkData,
  ChunkDataEnd,
  Trailer,
}

const fail = (reason: ResponseErrorReason, message: string): ResponseParseError => ({ reason, message });

/** nginx's words for what a head reader refuses (`upstream sent …`). */
const ERROR_MESSAGES: Record<ResponseErrorReason, string> = {
  'bad-status-line': 'no valid HTTP/1.0 header',
  'bad-header': 'invalid header',
  'head-too-big': 'too big header',
  'bad-length': 'invalid header',
  'bad-chunk': 'invalid chunked response',
  'unexpected-upgrade': 'invalid header',
};

/** A response parser for one connection: call {@link expect} before each response, then feed it. */
export class ResponseParser {
  private readonly events: ResponseEvents;
  private readonly maxHeadBytes: number;
  private readonly collectHeaders: boolean;
  private state = State.Idle;
  private partial: Buffer | undefined;
  private remaining = 0;
  private chunkSizeDigits = 0;
  private trailerLineBytes = 0;
  private isHeadRequest = false;
  private readonly scanner = new HeadScanner();
  /** Bumped by expect/stop: an event handler that stops the parser ends the current execute(). */
  private run = 0;

  constructor(events: ResponseEvents, options: ResponseParserOptions = {}) {
    this.events = events;
    this.maxHeadBytes = options.maxHeadBytes ?? 16 * 1024;
    this.collectHeaders = options.rawHeaders ?? true;
  }

  /** A response to a `method` request comes next. */
  expect(method: string): void {
    this.state = State.Head;
    this.partial = undefined;
    this.scanner.reset();
    this.isHeadRequest = method === 'HEAD';
    this.run++;
  }

  /** Abandons the response: no event follows until the next {@link expect}. */
  stop(): void {
    this.state = State.Idle;
    this.partial = undefined;
    this.scanner.reset();
    this.run++;
  }

  /** No response is expected (complete, failed, stopped or never begun). */
  get idle(): boolean {
    return this.state === State.Idle;
  }

  /** Still before the end of the head (a close now means no response at all). */
  get inHead(): boolean {
    return this.state === State.Head;
  }

  /**
   * The connection closed: a body framed by the close is complete now (`onEnd` follows, true).
   * Otherwise false, and the caller reports the premature close in its own words.
   */
  finish(): boolean {
    if (this.state !== State.BodyClose) return false;
    this.end(undefined, false);
    return true;
  }

  /** Feeds bytes; call only while a response is expected (not {@link idle}). */
  execute(chunk: Buffer): void {
    const run = this.run;
    let data = chunk;
    while (data.length > 0 && this.run === run) {
      switch (this.state) {
        case State.Idle:
          return;
        case State.Head:
          data = this.readHead(data);
          break;
        case State.BodyClose:
          this.events.onData(data);
          return;
        case State.BodyLength: {
          const take = Math.min(this.remaining, data.length);
          this.remaining -= take;
          const body = take === data.length ? data : data.subarray(0, take);
          data = take === data.length ? EMPTY : data.subarray(take);
          if (this.remaining === 0) {
            this.end(body, data.length > 0);
            return;
          }
          this.events.onData(body);
          break;
        }
        default:
          data = this.readChunked(data);
      }
    }
  }

  private end(last: Buffer | undefined, trailing: boolean): void {
    this.state = State.Idle;
    this.run++;
    this.events.onEnd(last, trailing);
  }

  private error(reason: ResponseErrorReason, message: string): Buffer {
    this.state = State.Idle;
    this.partial = undefined;
    this.scanner.reset();
    this.run++;
    this.events.onError(fail(reason, message));
    return EMPTY;
  }

  private readHead(data: Buffer): Buffer {
    const buffered: Buffer = this.partial ? Buffer.concat([this.partial, data]) : data;
    const bodyStart = this.scanner.scan(buffered);
    if (bodyStart < 0) {
      if (buffered.length > this.maxHeadBytes) return this.error('head-too-big', 'too big header');
      this.partial = buffered;
      return EMPTY;
    }
    if (bodyStart > this.maxHeadBytes) return this.error('head-too-big', 'too big header');
    this.partial = undefined;
    const head = this.parseHead(buffered);
    if (head === undefined) return EMPTY;
    const rest = buffered.subarray(bodyStart);
    if (head.statusCode < 200) {
      // Interim (100 Continue, 103 Early Hints): the final head follows. A 101 switches
      // protocols, which only a request asking to upgrade may get.
      if (head.statusCode === 101) return this.error('unexpected-upgrade', 'invalid header');
      return rest;
    }
    const run = this.run;
    this.events.onHead(head);
    if (this.run !== run) return EMPTY;
    if (this.state === State.Idle) {
      this.end(undefined, rest.length > 0);
      return EMPTY;
    }
    return rest;
  }

  /** Reads the head the scanner found in `buf` and sets the framing; undefined after an error. */
  private parseHead(buf: Buffer): ResponseHead | undefined {
    const head = readHead(buf, this.scanner, this.collectHeaders);
    this.scanner.reset();
    if (typeof head === 'string') {
      this.error(head, ERROR_MESSAGES[head]);
      return undefined;
    }
    const { statusCode, rawHeaders, connection, contentLength, transferEncoding } = head;
    const tokens = connection?.toLowerCase() ?? '';
    let keepAlive =
      head.minor !== 0 ? !/(?:^|[\s,])close(?:$|[\s,])/.test(tokens) : /(?:^|[\s,])keep-alive(?:$|[\s,])/.test(tokens);
    let framing: Framing;
    let length = -1;
    if (statusCode < 200 || this.isHeadRequest || statusCode === 204 || statusCode === 304) {
      framing = 'none';
    } else if (transferEncoding !== undefined) {
      framing = CHUNKED_LAST.test(transferEncoding) ? 'chunked' : 'close';
      if (contentLength !== NO_LENGTH) {
        // RFC 9112 §6.3: Transfer-Encoding wins; the length does not describe this body.
        keepAlive = false;
        for (let i = rawHeaders.length - 2; i >= 0; i -= 2) {
          if (rawHeaders[i]!.length === 14 && rawHeaders[i]!.toLowerCase() === 'content-length')
            rawHeaders.splice(i, 2);
        }
      }
    } else if (contentLength !== NO_LENGTH) {
      if (contentLength === BAD_LENGTH) {
        this.error('bad-length', 'invalid header');
        return undefined;
      }
      length = contentLength;
      framing = length === 0 ? 'none' : 'length';
    } else {
      framing = 'close';
    }
    if (framing === 'close') keepAlive = false;
    if (statusCode >= 200) this.setFraming(framing, length);
    return {
      statusCode,
      statusMessage: head.statusMessage,
      rawHeaders,
      connection,
      keepAlive,
      framing,
      contentLength: framing === 'length' ? length : -1,
    };
  }

  private setFraming(framing: Framing, length: number): void {
    switch (framing) {
      case 'none':
        this.state = State.Idle;
        break;
      case 'length':
        this.state = State.BodyLength;
        this.remaining = length;
        break;
      case 'chunked':
        this.startSizeLine();
        break;
      default:
        this.state = State.BodyClose;
    }
  }

  /** Feeds chunked-coded bytes; returns what is left after the body ended (or EMPTY). */
  private readChunked(data: Buffer): Buffer {
    const run = this.run;
    let i = 0;
    while (i < data.length) {
      switch (this.state) {
        case State.ChunkSize: {
          const c = data[i++]!;
          const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (digit >= 0) {
            if (++this.chunkSizeDigits > MAX_CHUNK_SIZE_DIGITS) return this.badChunk();
            this.remaining = this.remaining * 16 + digit;
          } else if (this.chunkSizeDigits === 0) {
            return this.badChunk();
          } else {
            this.state = State.ChunkSizeEnd;
            i--;
          }
          break;
        }
        case State.ChunkSizeEnd: {
          const c = data[i++]!;
          if (c === 0x3b /* ; */) this.state = State.ChunkExtension;
          else if (c === 0x0d) this.state = State.ChunkSizeCr;
          else if (c === 0x0a) this.endOfSizeLine();
          else if (c !== 0x20 && c !== 0x09) return this.badChunk();
          break;
        }
        case State.ChunkSizeCr:
          if (data[i++] !== 0x0a) return this.badChunk();
          this.endOfSizeLine();
          break;
        case State.ChunkExtension:
          if (data[i++] === 0x0a) this.endOfSizeLine();
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, data.length - i);
          const body = data.subarray(i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          this.events.onData(body);
          if (this.run !== run) return EMPTY;
          break;
        }
        case State.ChunkDataEnd: {
          const c = data[i++]!;
          if (c === 0x0a) this.startSizeLine();
          else if (c !== 0x0d) return this.badChunk();
          break;
        }
        case State.Trailer: {
          const c = data[i++]!;
          if (c === 0x0a) {
            if (this.trailerLineBytes === 0) {
              this.end(undefined, i < data.length);
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

  private badChunk(): Buffer {
    return this.error('bad-chunk', 'invalid chunked response');
  }
}
