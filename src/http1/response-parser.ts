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

/** Why a response was refused. */
export type ResponseErrorReason = 'bad-status-line' | 'bad-header' | 'head-too-big' | 'bad-length' | 'bad-chunk' | 'unexpected-upgrade';

export interface ResponseParseError {
  reason: ResponseErrorReason;
  message: string;
}

/** How the body of a response ends. */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

/** A final response head. */
export interface ResponseHead {
  statusCode: number;
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
  /** Collect the header pairs (a proxy forwards them); `false` reads only what frames the body. Default true. */
  rawHeaders?: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const STATUS_LINE = /^HTTP\/1\.([0-9]) ([1-9]\d\d)(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a header value or reason phrase may not hold: controls but tab (CR, LF and NUL among them). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
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

/**
 * Where a head ends that uses bare LF somewhere: `[headEnd, bodyStart]` of its first blank line
 * (`\n\n` or `\n\r\n`), or undefined. Only called when no CRLFCRLF settled it cheaply.
 */
function findBareBlankLine(buf: Buffer): [number, number] | undefined {
  for (let lf = buf.indexOf(10); lf >= 0; lf = buf.indexOf(10, lf + 1)) {
    if (buf[lf + 1] === 10) return [lf, lf + 2];
    if (buf[lf + 1] === 13 && buf[lf + 2] === 10) return [lf, lf + 3];
  }
  return undefined;
}

/**
 * The head's text and where its body starts, or undefined when the blank line has not arrived.
 * The usual CRLF head costs one native search; bare LF line ends (nginx accepts them) are looked
 * for in the head's text, or by a scan when no CRLFCRLF is there at all.
 */
function splitHead(buf: Buffer): { text: string; bodyStart: number } | undefined {
  const crlf = buf.indexOf(CRLFCRLF);
  if (crlf < 0) {
    const bare = findBareBlankLine(buf);
    return bare && { text: buf.toString('latin1', 0, bare[0]), bodyStart: bare[1] };
  }
  const text = buf.toString('latin1', 0, crlf);
  // A blank line before the CRLFCRLF: `\n\n`, `\n\r\n`, or a bare LF right before it.
  const lflf = text.indexOf('\n\n');
  const lfcrlf = text.indexOf('\n\r\n');
  const first = lflf < 0 ? lfcrlf : lfcrlf < 0 ? lflf : Math.min(lflf, lfcrlf);
  if (first >= 0) return { text: text.slice(0, first), bodyStart: first + (first === lflf ? 2 : 3) };
  if (text.endsWith('\n')) return { text: text.slice(0, -1), bodyStart: crlf + 2 };
  return { text, bodyStart: crlf + 4 };
}

/** Lines of a head, whatever mix of CRLF and bare LF ends them. */
function splitLines(text: string): string[] {
  const lines = text.split('\r\n');
  for (const line of lines) if (line.includes('\n')) return text.split(/\r?\n/);
  return lines;
}

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
    this.isHeadRequest = method === 'HEAD';
    this.run++;
  }

  /** Abandons the response: no event follows until the next {@link expect}. */
  stop(): void {
    this.state = State.Idle;
    this.partial = undefined;
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
    this.run++;
    this.events.onError(fail(reason, message));
    return EMPTY;
  }

  private readHead(data: Buffer): Buffer {
    const buffered: Buffer = this.partial ? Buffer.concat([this.partial, data]) : data;
    const split = splitHead(buffered);
    if (split === undefined) {
      if (buffered.length > this.maxHeadBytes) return this.error('head-too-big', 'too big header');
      this.partial = buffered;
      return EMPTY;
    }
    if (split.bodyStart > this.maxHeadBytes) return this.error('head-too-big', 'too big header');
    this.partial = undefined;
    const head = this.parseHead(split.text);
    if (head === undefined) return EMPTY;
    const rest = buffered.subarray(split.bodyStart);
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

  /** Parses the head (without its blank line) and sets the framing; undefined after an error. */
  private parseHead(text: string): ResponseHead | undefined {
    const lines = splitLines(text);
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status || (status[3] !== undefined && INVALID_VALUE.test(status[3]))) {
      this.error('bad-status-line', 'no valid HTTP/1.0 header');
      return undefined;
    }
    const http11 = status[1] !== '0';
    const statusCode = Number(status[2]);
    const rawHeaders: string[] = [];
    let connection: string | undefined;
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      const value = line.slice(colon + 1).trim();
      if (!TOKEN.test(name) || INVALID_VALUE.test(value)) {
        this.error('bad-header', 'invalid header');
        return undefined;
      }
      // Only three names matter for framing; compare lowercase only at their lengths.
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        connection = connection === undefined ? value : `${connection}, ${value}`;
      } else if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (contentLength !== undefined) {
          if (contentLength !== value) {
            this.error('bad-length', 'invalid header');
            return undefined;
          }
          continue; // an identical copy: forwarded once
        }
        contentLength = value;
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      }
      if (this.collectHeaders) rawHeaders.push(name, value);
    }
    const tokens = connection?.toLowerCase() ?? '';
    let keepAlive = http11 ? !/(?:^|[\s,])close(?:$|[\s,])/.test(tokens) : /(?:^|[\s,])keep-alive(?:$|[\s,])/.test(tokens);
    let framing: Framing;
    let length = -1;
    if (statusCode < 200 || this.isHeadRequest || statusCode === 204 || statusCode === 304) {
      framing = 'none';
    } else if (transferEncoding !== undefined) {
      framing = CHUNKED_LAST.test(transferEncoding) ? 'chunked' : 'close';
      if (contentLength !== undefined) {
        // RFC 9112 §6.3: Transfer-Encoding wins; the length does not describe this body.
        keepAlive = false;
        for (let i = rawHeaders.length - 2; i >= 0; i -= 2) {
          if (rawHeaders[i]!.length === 14 && rawHeaders[i]!.toLowerCase() === 'content-length') rawHeaders.splice(i, 2);
        }
      }
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) {
        this.error('bad-length', 'invalid header');
        return undefined;
      }
      length = Number(contentLength);
      framing = length === 0 ? 'none' : 'length';
    } else {
      framing = 'close';
    }
    if (framing === 'close') keepAlive = false;
    if (statusCode >= 200) this.setFraming(framing, length);
    return { statusCode, statusMessage: status[3] ?? '', rawHeaders, connection, keepAlive, framing, contentLength: framing === 'length' ? length : -1 };
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
