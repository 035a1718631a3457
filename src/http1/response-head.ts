/**
 * A response head read as bytes: one pass over the Buffer finds the blank line that ends it and
 * any byte a head may not hold, then each line is read in place. Strings are made only of what
 * a caller needs (the framing headers always; every pair when it forwards them). Reading the
 * Buffer, not a latin1 string of it, is what makes validating every byte affordable: a typed
 * array loop costs about a third of a `charCodeAt` loop here, and the load generator reads
 * tens of thousands of heads a second.
 */

/** Why a response was refused. */
export type ResponseErrorReason =
  | 'bad-status-line'
  | 'bad-header'
  | 'head-too-big'
  | 'bad-length'
  | 'bad-chunk'
  | 'unexpected-upgrade';

const enum Byte {
  Ordinary,
  Lf,
  Cr,
  /** A control (NUL among them) other than HTAB, CR and LF, or DEL: never in a head. */
  Invalid,
}

const BYTE_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) BYTE_CLASS[c] = Byte.Invalid;
BYTE_CLASS[0x09] = Byte.Ordinary;
BYTE_CLASS[0x0a] = Byte.Lf;
BYTE_CLASS[0x0d] = Byte.Cr;
BYTE_CLASS[0x7f] = Byte.Invalid;

/** Which bytes are `tchar`s (RFC 9110 §5.6.2): what a header name is made of. */
const TOKEN_BYTE = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN_BYTE[c.charCodeAt(0)] = 1;

type Latin1Slice = (this: Buffer, start: number, end: number) => string;
/**
 * `buf.toString('latin1', start, end)` without its argument checks (a third of its cost on a
 * short value): Buffer's own latin1Slice, which toString calls, present since Node 6.4; the
 * public call where a runtime lacks it.
 */
const latin1Slice: Latin1Slice =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };
const latin1 = (buf: Buffer, start: number, end: number): string => latin1Slice.call(buf, start, end);

/** A Content-Length of more digits is no body's (and past 2^53 no exact number). */
const MAX_LENGTH_DIGITS = 15;
/** {@link ParsedHead.contentLength} when there is none, and when it is not 1-15 digits. */
export const NO_LENGTH = -1;
export const BAD_LENGTH = -2;

/**
 * Finds where a head ends across reads: the bytes so far are handed in whole each time (the
 * caller keeps them), and the scan resumes where it stopped, so a head dripped a byte at a time
 * is still read once. A line ends at LF or CRLF (nginx accepts a bare LF); a CR anywhere else is
 * invalid.
 */
export class HeadScanner {
  /** Where the next scan starts. */
  private scanned = 0;
  /** The first byte a head may not hold (a control, a bare CR), or -1. */
  invalidAt = -1;
  /** The LF that ends the head's last line (the head's text is `[0, headEnd)`). */
  headEnd = 0;

  reset(): void {
    this.scanned = 0;
    this.invalidAt = -1;
  }

  /** Where the body starts once the blank line is in `buf`, else -1 (more bytes needed). */
  scan(buf: Buffer): number {
    const length = buf.length;
    for (let i = this.scanned; i < length; i++) {
      const kind = BYTE_CLASS[buf[i]!]!;
      if (kind === Byte.Ordinary) continue;
      if (kind === Byte.Lf) {
        // A blank line next: LF LF, or LF CR LF (the usual CRLF CRLF ends here too).
        const next = buf[i + 1];
        if (next === 0x0a || (next === 0x0d && buf[i + 2] === 0x0a)) {
          this.headEnd = i;
          this.scanned = 0;
          return i + (next === 0x0a ? 2 : 3);
        }
        if (next === undefined || (next === 0x0d && i + 2 === length)) return this.wait(i);
      } else if (kind === Byte.Cr) {
        if (i + 1 === length) return this.wait(i);
        if (buf[i + 1] !== 0x0a && this.invalidAt < 0) this.invalidAt = i;
      } else if (this.invalidAt < 0) {
        this.invalidAt = i;
      }
    }
    this.scanned = length;
    return -1;
  }

  /** The byte at `at` needs the next read's bytes to be judged: rescan from it. */
  private wait(at: number): number {
    this.scanned = at;
    return -1;
  }
}

/** A head as read: status, the framing headers, and the pairs when collected. */
export interface ParsedHead {
  statusCode: number;
  /** HTTP/1.x's minor version (1.0 keeps a connection only when asked). */
  minor: number;
  statusMessage: string;
  rawHeaders: string[];
  /** `Connection`'s values, comma-joined. */
  connection: string | undefined;
  /**
   * The one `Content-Length` (identical copies merged and forwarded once) as a number;
   * {@link NO_LENGTH} without one, {@link BAD_LENGTH} when it is not 1-15 digits (refused only
   * if the length frames the body: Transfer-Encoding, HEAD, 204 and 304 ignore it).
   */
  contentLength: number;
  /** Where the first Content-Length's value lies in the head (a repeat must hold the same bytes); -1 without one. */
  lengthStart: number;
  lengthEnd: number;
  /** `Transfer-Encoding`'s values, comma-joined. */
  transferEncoding: string | undefined;
}

/** Where the line whose LF is at `lf` ends: before a CR right in front of it. */
function contentEnd(buf: Buffer, from: number, lf: number): number {
  return lf > from && buf[lf - 1] === 0x0d ? lf - 1 : lf;
}

const isDigit = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x39;

/** `HTTP/1.` at the start of `buf`. */
const startsWithHttp1 = (buf: Buffer): boolean =>
  buf[0] === 0x48 &&
  buf[1] === 0x54 &&
  buf[2] === 0x54 &&
  buf[3] === 0x50 &&
  buf[4] === 0x2f &&
  buf[5] === 0x31 &&
  buf[6] === 0x2e;

/**
 * The status of `HTTP/1.x NNN[ reason]` in `buf[0, end)`, or 0 when the line is not one (the
 * reason's bytes were checked by the scan). A number, not an object: one head, no garbage.
 */
function readStatusLine(buf: Buffer, end: number): number {
  if (end < 12 || !startsWithHttp1(buf)) return 0;
  const a = buf[9]!;
  const b = buf[10];
  const c = buf[11];
  if (!isDigit(buf[7]) || buf[8] !== 0x20 || a < 0x31 || a > 0x39 || !isDigit(b) || !isDigit(c)) return 0;
  if (end > 12 && buf[12] !== 0x20) return 0;
  return (a - 0x30) * 100 + (b - 0x30) * 10 + (c - 0x30);
}

/** `buf[from, to)` is `name` (lowercase ASCII) in any case; the span holds token bytes only. */
function isName(buf: Buffer, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  // OR 0x20 lowercases letters; among token bytes no other one lands on a letter or '-'.
  for (let i = 0; i < name.length; i++) if ((buf[from + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

const isOws = (c: number | undefined): boolean => c === 0x20 || c === 0x09;

/**
 * Reads the head `buf[0, scanner.headEnd)` a {@link HeadScanner} found: the status line, then
 * every header line (a token, a colon, a value; OWS around it dropped). Returns the head or the
 * first thing wrong with it, in line order. Only the framing headers' values become strings
 * unless `collect`.
 */
export function readHead(buf: Buffer, scanner: HeadScanner, collect: boolean): ParsedHead | ResponseErrorReason {
  const { headEnd, invalidAt } = scanner;
  const bad = invalidAt < 0 ? headEnd + 1 : invalidAt;
  // Line ends are found by a byte loop: Buffer#indexOf's JS wrapper costs more than a short line's bytes.
  let lf = 0;
  while (lf < headEnd && buf[lf] !== 0x0a) lf++;
  const statusEnd = contentEnd(buf, 0, lf);
  const statusCode = bad < lf ? 0 : readStatusLine(buf, statusEnd);
  if (statusCode === 0) return 'bad-status-line';
  // Fields set one by one: a spread of `status` here cost 9 µs a head (V8's slow path).
  const head: ParsedHead = {
    statusCode,
    minor: buf[7]! - 0x30,
    statusMessage: collect && statusEnd > 13 ? latin1(buf, 13, statusEnd) : '',
    rawHeaders: [],
    connection: undefined,
    contentLength: NO_LENGTH,
    lengthStart: -1,
    lengthEnd: -1,
    transferEncoding: undefined,
  };
  for (let pos = lf + 1; pos <= headEnd; pos = lf + 1) {
    lf = pos;
    while (buf[lf] !== 0x0a) lf++; // headEnd is an LF: the loop stops there at the latest
    const end = contentEnd(buf, pos, lf);
    let colon = pos;
    while (TOKEN_BYTE[buf[colon]!] === 1) colon++;
    if (bad < lf || colon === pos || colon >= end || buf[colon] !== 0x3a) return 'bad-header';
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isOws(buf[vs])) vs++;
    while (ve > vs && isOws(buf[ve - 1])) ve--;
    const wrong = readHeader(buf, pos, colon, vs, ve, head, collect);
    if (wrong !== undefined) return wrong;
  }
  return head;
}

/** 1-15 digits as a number, else {@link BAD_LENGTH}. */
function readLength(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > MAX_LENGTH_DIGITS) return BAD_LENGTH;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return BAD_LENGTH;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** One header line: the framing headers are noted, the pair collected when asked. */
function readHeader(
  buf: Buffer,
  name: number,
  colon: number,
  vs: number,
  ve: number,
  head: ParsedHead,
  collect: boolean,
): ResponseErrorReason | undefined {
  // Only three names matter for framing; their lengths (10, 14, 17) sort out the rest at once.
  const size = colon - name;
  if (size === 10 && isName(buf, name, colon, 'connection')) {
    const value = latin1(buf, vs, ve);
    head.connection = head.connection === undefined ? value : `${head.connection}, ${value}`;
  } else if (size === 14 && isName(buf, name, colon, 'content-length')) {
    if (head.lengthStart >= 0) {
      // An identical copy is forwarded once; any other is a smuggling hint.
      const same =
        ve - vs === head.lengthEnd - head.lengthStart &&
        buf.compare(buf, vs, ve, head.lengthStart, head.lengthEnd) === 0;
      return same ? undefined : 'bad-length';
    }
    head.lengthStart = vs;
    head.lengthEnd = ve;
    head.contentLength = readLength(buf, vs, ve);
  } else if (size === 17 && isName(buf, name, colon, 'transfer-encoding')) {
    const value = latin1(buf, vs, ve);
    head.transferEncoding = head.transferEncoding === undefined ? value : `${head.transferEncoding}, ${value}`;
  }
  if (collect) head.rawHeaders.push(latin1(buf, name, colon), latin1(buf, vs, ve));
  return undefined;
}
