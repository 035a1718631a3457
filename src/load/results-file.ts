import { createReadStream, createWriteStream, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { sniffGzipStream } from '../util/index.js';
import {
  decodeHeader,
  decodeResult,
  encodeHeader,
  encodeResult,
  type LoadResult,
  type ResultsHeader,
} from './result.js';

/** Streams results to an NDJSON file; memory stays flat whatever the request count. */
export interface ResultsWriter {
  /** Writes the header: call once, before the first result. */
  writeHeader(header: ResultsHeader): void;
  write(result: LoadResult): void;
  /** Flushes and closes the file (standard output is flushed, not closed). */
  close(): Promise<void>;
}

/** Options of {@link createResultsWriter}. */
export interface ResultsWriterOptions {
  /** Where `-` writes (default `process.stdout`). */
  stdout?: Writable;
}

// Lines are joined into chunks of about this size before they reach the stream: one write per
// few hundred requests instead of one per request.
const CHUNK_CHARS = 64 * 1024;

/** The path that means standard input (`report -`) or standard output (`load --output -`). */
export const STDIO_PATH = '-';

/**
 * Opens `path` for writing at once (so a bad path fails before the run, as `BG_UNREADABLE`).
 * `-` is standard output (vegeta's pipe: `load --output - | report -`); a name ending in `.gz`
 * is written gzipped.
 */
export function createResultsWriter(path: string, options: ResultsWriterOptions = {}): ResultsWriter {
  const sink = path === STDIO_PATH ? createStdoutSink(options.stdout ?? process.stdout) : createFileSink(path);
  let chunk = '';
  return {
    writeHeader(header) {
      chunk = encodeHeader(header) + chunk;
    },
    write(result) {
      chunk += encodeResult(result);
      if (chunk.length >= CHUNK_CHARS) {
        sink.write(chunk);
        chunk = '';
      }
    },
    close() {
      if (chunk.length > 0) sink.write(chunk);
      chunk = '';
      return sink.finish();
    },
  };
}

/** Where the writer's chunks go: `finish()` resolves once everything is out (or rejects with the first error). */
interface Sink {
  write(text: string): void;
  finish(): Promise<void>;
}

/** Standard output is flushed, never ended: the process may still print to it. */
function createStdoutSink(out: Writable): Sink {
  let failure: unknown;
  out.on('error', (err) => (failure ??= err));
  return {
    write: (text) => out.write(text),
    finish: () => new Promise((resolve, reject) => out.write('', () => (failure ? reject(failure) : resolve()))),
  };
}

function createFileSink(path: string): Sink {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `--output: cannot write ${path} (${errnoCode(err) ?? 'error'})`, {
      cause: err,
    });
  }
  const file = createWriteStream(path, { fd, highWaterMark: 1024 * 1024 });
  const gzip = path.endsWith('.gz') ? createGzip() : undefined;
  gzip?.pipe(file);
  const head: Writable = gzip ?? file;
  let failure: unknown;
  const onError = (err: unknown): unknown => (failure ??= err);
  file.on('error', onError);
  gzip?.on('error', onError);
  return {
    write: (text) => head.write(text),
    finish: () =>
      new Promise((resolve, reject) => {
        // The file closes after the gzip stream has flushed its last block into it.
        file.once('close', () => (failure ? reject(failure) : resolve()));
        head.end();
      }),
  };
}

/** What {@link readResults} found besides the results. */
export interface ReadStats {
  files: number;
  records: number;
  /** Lines that were not result records (blank, truncated, foreign). */
  skipped: number;
  /** Each file's header, in the order of the paths (undefined: a file without one). */
  headers: (ResultsHeader | undefined)[];
}

/** Options of {@link readResults}. */
export interface ReadResultsOptions {
  /** Added to the due and sent times of each file's records (by index): puts files on one timeline. */
  offsetsMs?: readonly number[];
  /** What `-` reads (default `process.stdin`). */
  stdin?: Readable;
}

/** One result file, opened and its first line read: the header is known before any record. */
export interface OpenResultsFile {
  path: string;
  header: ResultsHeader | undefined;
  /** Hands every record to `onResult`, its times moved by `offsetMs`; resolves to the counts. */
  drain(
    onResult: (result: LoadResult) => void,
    offsetMs?: number,
  ): Promise<{ records: number; lines: number; skipped: number }>;
  close(): void;
}

const displayName = (path: string): string => (path === STDIO_PATH ? 'standard input' : path);

/**
 * The lines of a results file (gunzipped when it starts as gzip; `-` = standard input). Every read
 * races the streams' errors, so an unreadable file or corrupt gzip rejects `next()` in `fail`'s
 * words; `close()` lets the streams go (never standard input itself).
 */
async function openLines(
  path: string,
  stdin: Readable | undefined,
  fail: (err: unknown) => BadgatewayError,
): Promise<{ next: () => Promise<string | undefined>; close: () => void }> {
  const raw: Readable = path === STDIO_PATH ? (stdin ?? process.stdin) : createReadStream(path);
  let input: Readable;
  try {
    const { gzip, chunks } = await sniffGzipStream(raw);
    input = Readable.from(chunks, { objectMode: false });
    if (gzip) {
      const gunzip = createGunzip();
      input.on('error', (err) => gunzip.destroy(err));
      input = input.pipe(gunzip);
    }
  } catch (err) {
    raw.destroy();
    throw fail(err);
  }
  // Read errors (an unreadable file, corrupt gzip) reject `failed`; every read races it, and an
  // error after close() (a stream destroyed half-way) has nowhere left to go.
  let onError: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (onError = (err) => reject(fail(err))));
  failed.catch(() => {});
  raw.on('error', onError);
  input.on('error', onError);
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    try {
      const r = await Promise.race([lines.next(), failed]);
      return r.done ? undefined : r.value;
    } catch (err) {
      throw fail(err);
    }
  };
  const close = (): void => {
    void lines.return?.();
    input.destroy();
    if (raw !== process.stdin) raw.destroy();
  };
  return { next, close };
}

/**
 * Opens a result file written by `--output` (`-` = standard input; gzip sniffed by its magic
 * bytes, whatever the name) and reads its first line, so a merge knows every file's start before
 * it reads a record. Each file is read once, which is what lets standard input take part.
 */
export async function openResultsFile(path: string, { stdin }: { stdin?: Readable } = {}): Promise<OpenResultsFile> {
  const name = displayName(path);
  const fail = (err: unknown): BadgatewayError =>
    err instanceof BadgatewayError
      ? err
      : new BadgatewayError(
          ERROR_CODES.UNREADABLE,
          `cannot read ${name} (${errnoCode(err) ?? (err as Error).message})`,
          { cause: err },
        );
  const { next, close } = await openLines(path, stdin, fail);
  // The first line that is not blank: the header, a record, or proof that this is no result file.
  let first: string | undefined;
  let blank = 0;
  try {
    while ((first = await next()) !== undefined && first.trim() === '') blank += 1;
  } catch (err) {
    close();
    throw err;
  }
  if (first !== undefined && !first.trimStart().startsWith('{')) {
    close();
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `${name}: not a badgateway results file (expected NDJSON from \`badgateway load --output\`)`,
    );
  }
  const header = first === undefined ? undefined : decodeHeader(first);
  const pending = header === undefined ? first : undefined;
  return {
    path,
    header,
    close,
    async drain(onResult, offsetMs = 0) {
      const counts = { records: 0, lines: blank + (first === undefined ? 0 : 1), skipped: 0 };
      const take = (line: string): void => {
        const result = decodeResult(line);
        if (result) {
          counts.records += 1;
          result.dueMs += offsetMs;
          result.sentMs += offsetMs;
          onResult(result);
        } else if (line.trim() !== '') {
          counts.skipped += 1;
        }
      };
      try {
        if (pending !== undefined) take(pending);
        for (let line = await next(); line !== undefined; line = await next()) {
          counts.lines += 1;
          take(line);
        }
      } finally {
        close();
      }
      return counts;
    },
  };
}

/**
 * Reads the NDJSON result files written by `--output` (gzipped ones too, `-` for standard input)
 * and hands every record to `onResult`, file after file, with each file's header in the stats.
 * Each file's times are relative to its own start; `offsetsMs` moves them onto one timeline (see
 * summarizeResultFiles).
 */
export async function readResults(
  paths: readonly string[],
  onResult: (result: LoadResult) => void,
  options: ReadResultsOptions = {},
): Promise<ReadStats> {
  const stats: ReadStats = { files: 0, records: 0, skipped: 0, headers: [] };
  for (const [index, path] of paths.entries()) {
    const file = await openResultsFile(path, options.stdin ? { stdin: options.stdin } : {});
    const counts = await file.drain(onResult, options.offsetsMs?.[index] ?? 0);
    stats.files += 1;
    stats.records += counts.records;
    stats.skipped += counts.skipped;
    stats.headers.push(file.header);
  }
  return stats;
}

/** The header of a result file (its first line), without reading the rest; undefined when it has none. */
export async function readResultsHeader(path: string): Promise<ResultsHeader | undefined> {
  const file = await openResultsFile(path);
  file.close();
  return file.header;
}
