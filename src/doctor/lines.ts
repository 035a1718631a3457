import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { isGzipHead, sniffGzipStream } from '../util/index.js';

/** Lines are read as latin1 (one char per byte); this turns such a string back into the UTF-8 text it holds. */
export function latin1ToUtf8(text: string): string {
  // Pure ASCII (nearly every log line) needs no work.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'latin1').toString('utf8');
  }
  return text;
}

/**
 * A copy of a string that shares no memory with it. Lines are slices of 1 MiB read chunks; a
 * stored slice (an example line, a map key) would keep its whole chunk alive.
 */
export function detach(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * Called once per line, without the `\n` (and without a trailing `\r`); `start` is the line's
 * byte offset in the input (lines are latin1: one char per byte).
 */
export type LineHandler = (line: string, truncated: boolean, start: number) => void;

/**
 * Splits decoded text into lines, keeping at most `maxLineChars` of each: a line longer than that
 * is cut (the start is what classifies it) and the rest is skipped up to the next newline, so a
 * multi-megabyte line never sits in memory whole.
 */
export class LineSplitter {
  #carry = '';
  /** Inside an over-long line whose head was already emitted: skip to the next newline. */
  #skipping = false;
  readonly #maxLineChars: number;
  readonly #onLine: LineHandler;
  /** Lines emitted so far. */
  lines = 0;
  /** Lines cut at `maxLineChars`. */
  truncated = 0;
  /** Offset of the first char of the text being pushed. */
  #base: number;
  /** Offset of the line being assembled. */
  #lineStart: number;

  /** `offset`: the input offset of the first char pushed (for byte ranges). */
  constructor(onLine: LineHandler, maxLineChars: number, offset = 0) {
    this.#onLine = onLine;
    this.#maxLineChars = maxLineChars;
    this.#base = offset;
    this.#lineStart = offset;
  }

  push(text: string): void {
    let pos = 0;
    const len = text.length;
    while (pos < len) {
      if (this.#carry.length === 0 && !this.#skipping) this.#lineStart = this.#base + pos;
      const nl = text.indexOf('\n', pos);
      if (nl === -1) {
        this.#keep(text, pos, len);
        break;
      }
      if (this.#skipping) {
        this.#skipping = false;
      } else if (this.#carry.length > 0) {
        const room = this.#maxLineChars - this.#carry.length;
        const cut = nl - pos > room;
        this.#emit(this.#carry + text.slice(pos, cut ? pos + room : nl), cut);
        this.#carry = '';
      } else if (nl - pos > this.#maxLineChars) {
        this.#emit(text.slice(pos, pos + this.#maxLineChars), true);
      } else {
        this.#emit(text.slice(pos, nl), false);
      }
      pos = nl + 1;
    }
    this.#base += len;
  }

  /** Flushes a last line without a newline. */
  end(): void {
    if (this.#carry.length > 0) this.#emit(this.#carry, false);
    this.#carry = '';
    this.#skipping = false;
  }

  #keep(text: string, from: number, to: number): void {
    if (this.#skipping) return;
    const room = this.#maxLineChars - this.#carry.length;
    if (to - from > room) {
      // Emit the head now and drop the rest of this line as it streams past.
      this.#emit(this.#carry + text.slice(from, from + room), true);
      this.#carry = '';
      this.#skipping = true;
      return;
    }
    this.#carry += text.slice(from, to);
  }

  #emit(line: string, truncated: boolean): void {
    this.lines += 1;
    if (truncated) this.truncated += 1;
    this.#onLine(line.endsWith('\r') ? line.slice(0, -1) : line, truncated, this.#lineStart);
  }
}

export interface ReadLinesOptions {
  /** Longest line kept, in characters; longer lines are cut. */
  maxLineChars: number;
  /** Read chunk size in bytes (large chunks: fewer, cheaper callbacks). */
  chunkBytes: number;
  signal?: AbortSignal;
  /** Standard input, for the file name `-`. */
  stdin?: Readable;
  /**
   * Only the lines that start in `[start, end)` (bytes) of a plain file: how parallel workers split
   * one big file. The line running across `start` belongs to the previous range.
   */
  range?: { start: number; end: number };
}

export interface ReadLinesResult {
  lines: number;
  truncated: number;
  bytes: number;
  gzip: boolean;
}

/**
 * Streams the lines of a file (`-` = stdin). gzip is detected by its magic bytes (not the name),
 * so rotated `error.log.2.gz` and a renamed file both work. Errors opening the file become
 * `BG_UNREADABLE` / `BG_PERMISSION` naming it.
 */
export async function readLines(
  file: string,
  onLine: LineHandler,
  options: ReadLinesOptions,
): Promise<ReadLinesResult> {
  const splitter = new LineSplitter(onLine, options.maxLineChars);
  let source: Readable;
  let gzip = false;
  if (file === '-') {
    source = options.stdin ?? process.stdin;
    // stdin may be gzip too: sniff its first chunk.
    return readStream(source, splitter, options, undefined, file);
  }
  gzip = await sniffGzip(file);
  const range = options.range;
  if (range && !gzip) {
    // Read from one byte early: if that byte is the newline ending the previous range's last
    // line, the first (empty) line is dropped like any partial first line would be.
    const from = Math.max(0, range.start - 1);
    let first = range.start > 0;
    let lines = 0;
    let truncatedLines = 0;
    const stop = new AbortController();
    const ranged = new LineSplitter(
      (line, truncated, start) => {
        if (first) {
          first = false;
          return;
        }
        if (start >= range.end) {
          stop.abort();
          return;
        }
        lines += 1;
        if (truncated) truncatedLines += 1;
        onLine(line, truncated, start);
      },
      options.maxLineChars,
      from,
    );
    const result = await readPlainFile(file, from, ranged, options, stop.signal);
    return { ...result, lines, truncated: truncatedLines };
  }
  if (!gzip) return readPlainFile(file, 0, splitter, options);
  source = createReadStream(file, { highWaterMark: options.chunkBytes });
  return readStream(source, splitter, options, gzip, file);
}

/** Chunks read synchronously between two yields to the event loop (Ctrl-C stays responsive). */
const CHUNKS_PER_YIELD = 64;

/**
 * Reads a plain file with synchronous reads into one reused buffer: a third of the CPU of a read
 * stream (no stream machinery, no Buffer per chunk). It yields to the event loop every
 * CHUNKS_PER_YIELD chunks, so signals and timers still run.
 */
async function readPlainFile(
  file: string,
  from: number,
  splitter: LineSplitter,
  options: ReadLinesOptions,
  stop?: AbortSignal,
): Promise<ReadLinesResult> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw readError(file, err, false);
  }
  const buffer = Buffer.allocUnsafe(options.chunkBytes);
  let position = from;
  let bytes = 0;
  try {
    for (let chunks = 1; ; chunks++) {
      let n: number;
      try {
        n = readSync(fd, buffer, 0, buffer.length, position);
      } catch (err) {
        throw readError(file, err, false);
      }
      if (n === 0) break;
      position += n;
      bytes += n;
      // latin1: see readStream.
      splitter.push(buffer.toString('latin1', 0, n));
      if (stop?.aborted) break;
      if (chunks % CHUNKS_PER_YIELD === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        options.signal?.throwIfAborted();
      }
    }
  } finally {
    closeSync(fd);
  }
  splitter.end();
  return { lines: splitter.lines, truncated: splitter.truncated, bytes, gzip: false };
}

async function readStream(
  raw: Readable,
  splitter: LineSplitter,
  options: ReadLinesOptions,
  gzipKnown: boolean | undefined,
  file: string,
  stop?: AbortSignal,
): Promise<ReadLinesResult> {
  let bytes = 0;
  let gzip = gzipKnown ?? false;
  let source: AsyncIterable<Buffer> = raw;
  if (gzipKnown === undefined) {
    const sniffed = await sniffGzipStream(raw);
    gzip = sniffed.gzip;
    source = sniffed.chunks;
  }
  if (gzip) {
    // pipe() does not forward errors: a read error on the source must still end the gunzip stream.
    const input = source === raw ? raw : Readable.from(source, { objectMode: false });
    const gunzip = createGunzip({ chunkSize: Math.max(64, Math.min(options.chunkBytes, 1 << 20)) });
    input.on('error', (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    source = gunzip;
  }
  try {
    for await (const chunk of source) {
      options.signal?.throwIfAborted();
      if (stop?.aborted) break;
      bytes += chunk.length;
      // latin1 maps each byte to one char: the fastest decoding, never splits a character across
      // chunks, and loses nothing (latin1ToUtf8 restores the text of what is shown to people).
      splitter.push(chunk.toString('latin1'));
    }
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw readError(file, err, gzip);
  } finally {
    raw.destroy?.();
  }
  splitter.end();
  return { lines: splitter.lines, truncated: splitter.truncated, bytes, gzip };
}

/** Checks the file is a readable regular file and whether it starts with the gzip magic (errors become BG_UNREADABLE naming it). */
export async function sniffGzip(file: string): Promise<boolean> {
  let handle;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    handle = await open(file, 'r');
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && isGzipHead(head);
  } catch (err) {
    throw readError(file, err, false);
  } finally {
    await handle?.close();
  }
}

function readError(file: string, err: unknown, gzip: boolean): BadgatewayError {
  const code = errnoCode(err);
  const name = file === '-' ? 'standard input' : file;
  if (code === 'EACCES' || code === 'EPERM') {
    return new BadgatewayError(ERROR_CODES.PERMISSION, `cannot read ${name}: permission denied`, { cause: err });
  }
  if (code === 'ENOENT')
    return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${name}: no such file`, { cause: err });
  if (code === 'EISDIR')
    return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${name}: is a directory`, { cause: err });
  if (gzip || (code?.startsWith('Z_') ?? false)) {
    return new BadgatewayError(
      ERROR_CODES.UNREADABLE,
      `cannot read ${name}: corrupt gzip data (${(err as Error).message})`,
      { cause: err },
    );
  }
  return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${name}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
