import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { decodeHeader, decodeResult, encodeHeader, encodeResult, type LoadResult, type ResultsHeader } from './result.js';

/** Streams results to an NDJSON file; memory stays flat whatever the request count. */
export interface ResultsWriter {
  /** Writes the header: call once, before the first result. */
  writeHeader(header: ResultsHeader): void;
  write(result: LoadResult): void;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

// Lines are joined into chunks of about this size before they reach the stream: one write per
// few hundred requests instead of one per request.
const CHUNK_CHARS = 64 * 1024;

/** Opens `path` for writing at once (so a bad path fails before the run, as `BG_UNREADABLE`). */
export function createResultsWriter(path: string): ResultsWriter {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `--output: cannot write ${path} (${errnoCode(err) ?? 'error'})`, { cause: err });
  }
  const stream = createWriteStream(path, { fd, highWaterMark: 1024 * 1024 });
  let failure: unknown;
  stream.on('error', (err) => (failure = err));
  let chunk = '';
  return {
    writeHeader(header) {
      chunk = encodeHeader(header) + chunk;
    },
    write(result) {
      chunk += encodeResult(result);
      if (chunk.length >= CHUNK_CHARS) {
        stream.write(chunk);
        chunk = '';
      }
    },
    close() {
      return new Promise((resolve, reject) => {
        if (chunk.length > 0) stream.write(chunk);
        chunk = '';
        stream.end(() => (failure ? reject(failure) : resolve()));
      });
    },
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
}

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the NDJSON result files written by `--output` (gzipped ones too, sniffed by their magic
 * bytes) and hands every record to `onResult`, file after file, with each file's header in the
 * stats. Each file's times are relative to its own start; `offsetsMs` moves them onto one timeline
 * (see mergeResultFiles).
 */
export async function readResults(paths: readonly string[], onResult: (result: LoadResult) => void, options: ReadResultsOptions = {}): Promise<ReadStats> {
  const stats: ReadStats = { files: 0, records: 0, skipped: 0, headers: [] };
  for (const [index, path] of paths.entries()) {
    const offsetMs = options.offsetsMs?.[index] ?? 0;
    let header: ResultsHeader | undefined;
    const { lines, failed } = openLines(path);
    const reading = (async () => {
      let first = true;
      let fileRecords = 0;
      for await (const line of lines) {
        if (first && line.trim() !== '') {
          first = false;
          if (!line.trimStart().startsWith('{')) {
            throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `${path}: not a badgateway results file (expected NDJSON from \`badgateway load --output\`)`);
          }
        }
        const result = decodeResult(line);
        if (result) {
          stats.records += 1;
          fileRecords += 1;
          result.dueMs += offsetMs;
          result.sentMs += offsetMs;
          onResult(result);
        } else if (fileRecords === 0 && header === undefined && (header = decodeHeader(line)) !== undefined) {
          // The header, first line of the file.
        } else if (line.trim() !== '') {
          stats.skipped += 1;
        }
      }
    })();
    await Promise.race([reading, failed]);
    stats.files += 1;
    stats.headers.push(header);
  }
  return stats;
}

/** The header of a result file (its first line), without reading the rest; undefined when it has none. */
export async function readResultsHeader(path: string): Promise<ResultsHeader | undefined> {
  const { lines, failed, close } = openLines(path, 16 * 1024);
  const first = (async () => {
    for await (const line of lines) {
      if (line.trim() !== '') return decodeHeader(line);
    }
    return undefined;
  })();
  try {
    return await Promise.race([first, failed]);
  } finally {
    close();
  }
}

/**
 * The lines of a result file, gunzipped when it starts with gzip's magic; `failed` rejects with
 * `BG_UNREADABLE` naming the file when reading fails (race it against the reading).
 */
function openLines(path: string, highWaterMark?: number): { lines: Interface; failed: Promise<never>; close(): void } {
  let gzip: boolean;
  try {
    gzip = isGzip(path);
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path} (${errnoCode(err) ?? 'error'})`, { cause: err });
  }
  const raw = createReadStream(path, highWaterMark === undefined ? {} : { highWaterMark });
  const input = gzip ? raw.pipe(createGunzip()) : raw;
  const failed = new Promise<never>((_, reject) => {
    const fail = (err: unknown): void =>
      reject(new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path} (${errnoCode(err) ?? (err as Error).message})`, { cause: err }));
    raw.on('error', fail);
    input.on('error', fail);
  });
  failed.catch(() => {});
  const lines = createInterface({ input, crlfDelay: Infinity });
  return {
    lines,
    failed,
    close() {
      lines.close();
      raw.destroy();
    },
  };
}
