import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { AccessLogAggregator, summarizeAccessLogs, type AccessLogSummary } from './access-log.js';
import {
  ErrorLogAggregator,
  mergeErrorLogSummaries,
  summarizeProxyLogs,
  type ErrorLogSummary,
  type ProxyLogInput,
} from './error-log.js';
import { readLines, sniffGzip } from './lines.js';
import type { DoctorOptions } from './options.js';

/** The log side of one doctor sample. */
export interface LogSummaries {
  errorLog: ErrorLogSummary | null;
  accessLog: AccessLogSummary | null;
}

/** Reads the logs of a doctor run; `read()` once per sample. */
export interface LogReader {
  read(): Promise<LogSummaries>;
}

type ReadOptions = Pick<
  DoctorOptions,
  'errorLogs' | 'proxyLogs' | 'accessLogs' | 'maxLineChars' | 'bucketS' | 'signal'
>;

/**
 * One reader for `doctor`'s logs. Without `follow` the logs are read once, on the first sample
 * (a one-shot diagnosis; big files in worker threads) and that summary is returned every time.
 * With `follow` (--watch, --prometheus) every sample also reads what was appended since the last
 * one, so the counts keep growing like the counters Prometheus expects and a rate over them is
 * the rate of new 502/504 lines. A file that shrank (truncated) or was replaced (rotated, new
 * inode) is read again from its start; a line still being written is left for the next sample.
 * gzip files, stdin and pipes are read once.
 */
export function createLogReader(
  options: ReadOptions,
  io: { stdin?: Readable } = {},
  { follow = false } = {},
): LogReader {
  const read = {
    maxLineChars: options.maxLineChars,
    bucketS: options.bucketS,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(io.stdin ? { stdin: io.stdin } : {}),
  };
  // nginx-format error logs (nginx's and the built-in proxy's) and every other proxy's log, each in its format.
  const proxyLogs: ProxyLogInput[] = [
    ...options.errorLogs.map((file) => ({ file, format: 'nginx' as const })),
    ...options.proxyLogs,
  ];
  if (!follow) {
    let once: Promise<LogSummaries> | undefined;
    return {
      read: () =>
        (once ??= (async () => ({
          errorLog: proxyLogs.length > 0 ? await summarizeProxyLogs(proxyLogs, read) : null,
          accessLog: options.accessLogs.length > 0 ? await summarizeAccessLogs(options.accessLogs, read) : null,
        }))()),
    };
  }
  // One followed log (with its aggregator) per format: the files of one format are rotated parts of one log.
  const byFormat = new Map<ProxyLogInput['format'], string[]>();
  for (const { file, format } of proxyLogs) byFormat.set(format, [...(byFormat.get(format) ?? []), file]);
  const errors = [...byFormat].map(([format, files]) =>
    createFollowedLog(files, new ErrorLogAggregator({ bucketS: options.bucketS, format }), read),
  );
  const access =
    options.accessLogs.length > 0
      ? createFollowedLog(options.accessLogs, new AccessLogAggregator({ bucketS: options.bucketS }), read)
      : undefined;
  return {
    async read() {
      const parts: ErrorLogSummary[] = [];
      for (const log of errors) parts.push(await log.read());
      const errorLog =
        parts.length === 0
          ? null
          : parts.length === 1
            ? parts[0]!
            : mergeErrorLogSummaries(parts, { bucketS: options.bucketS });
      return { errorLog, accessLog: (await access?.read()) ?? null };
    },
  };
}

interface Aggregator<S> {
  add(line: string, truncated?: boolean): void;
  summary(): S;
}

/** A file's line in a summary's `files`. */
type FileEntry = ErrorLogSummary['files'][number];

interface FileState {
  file: string;
  /** Inode of the file last read; a new one means the log was rotated. */
  ino: number;
  /** Bytes consumed: always just after a newline. */
  offset: number;
  lines: number;
  truncatedLines: number;
  gzip: boolean;
  /** gzip, stdin and pipes are read once. */
  done: boolean;
}

/** Bytes read backwards at a time to find the last complete line. */
const TAIL_CHUNK = 64 * 1024;

function createFollowedLog<S extends { files: FileEntry[] }>(
  files: readonly string[],
  aggregator: Aggregator<S>,
  read: { maxLineChars: number; signal?: AbortSignal; stdin?: Readable },
): { read(): Promise<S> } {
  const states: FileState[] = files.map((file) => ({
    file,
    ino: -1,
    offset: 0,
    lines: 0,
    truncatedLines: 0,
    gzip: false,
    done: false,
  }));
  const lineOptions = {
    maxLineChars: read.maxLineChars,
    chunkBytes: TAIL_CHUNK,
    ...(read.signal ? { signal: read.signal } : {}),
    ...(read.stdin ? { stdin: read.stdin } : {}),
  };
  const onLine = (state: FileState) => (line: string, truncated: boolean) => {
    aggregator.add(line, truncated);
    state.lines += 1;
    if (truncated) state.truncatedLines += 1;
  };
  return {
    async read() {
      for (const state of states) {
        if (state.done) continue;
        if (state.file === '-' || (state.ino === -1 && (state.gzip = await sniffGzip(state.file)))) {
          await readLines(state.file, onLine(state), lineOptions);
          state.done = true;
          continue;
        }
        let info;
        try {
          info = await stat(state.file);
        } catch {
          // Between a rotation's rename and the new file's creation: try again next sample.
          if (state.ino !== -1) continue;
          await readLines(state.file, onLine(state), lineOptions); // throws BG_UNREADABLE naming it
          continue;
        }
        if (!info.isFile()) {
          // A pipe or a device has no size to follow: read it through once.
          await readLines(state.file, onLine(state), lineOptions);
          state.done = true;
          continue;
        }
        if (info.ino !== state.ino || info.size < state.offset) state.offset = 0;
        state.ino = info.ino;
        const end = lastLineEnd(state.file, state.offset, info.size);
        if (end <= state.offset) continue;
        await readLines(state.file, onLine(state), { ...lineOptions, range: { start: state.offset, end } });
        state.offset = end;
      }
      const summary = aggregator.summary();
      summary.files = states.map((s) => ({
        file: s.file,
        lines: s.lines,
        bytes: s.offset,
        gzip: s.gzip,
        truncatedLines: s.truncatedLines,
      }));
      return summary;
    },
  };
}

/** Offset just after the last newline in `[from, size)` of `file`; `from` when there is none. */
function lastLineEnd(file: string, from: number, size: number): number {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(TAIL_CHUNK);
    for (let end = size; end > from; end -= TAIL_CHUNK) {
      const start = Math.max(from, end - TAIL_CHUNK);
      const n = readSync(fd, buffer, 0, end - start, start);
      const i = buffer.subarray(0, n).lastIndexOf(0x0a);
      if (i !== -1) return start + i + 1;
    }
    return from;
  } finally {
    closeSync(fd);
  }
}
