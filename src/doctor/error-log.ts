import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { BadgatewayError, ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { detach, latin1ToUtf8, readLines } from './lines.js';
import {
  PROXY_LOG_PATTERNS,
  UNKNOWN_UPSTREAM_PATTERN,
  createProxyLogClassifier,
  type CauseId,
  type FastClassification,
  type LogLevel,
} from '../causes/index.js';
import { createBucketer, parseErrorLogTime } from './time-bucket.js';
import { CappedCounter, type CountEntry } from './counter.js';

/** Limits that keep the summary's memory bounded whatever the log holds. */
export interface ErrorLogSummaryOptions {
  /** Timeline bucket size in seconds (default 60). */
  bucketS: number;
  /** Distinct upstreams tracked; the rest are counted under `(other)`. */
  maxUpstreams: number;
  /** Distinct timeline buckets kept; lines in later buckets are counted under `(other)`. */
  maxBuckets: number;
  /** Example lines are cut to this many characters. */
  maxExampleChars: number;
}

export const ERROR_LOG_SUMMARY_DEFAULTS: ErrorLogSummaryOptions = {
  bucketS: 60,
  maxUpstreams: 1000,
  maxBuckets: 10_000,
  maxExampleChars: 1000,
};

/** One kind of upstream error line, as counted in a log. */
export interface PatternSummary {
  /** A PROXY_LOG_PATTERNS id, or `unknown-upstream-error`. */
  id: string;
  level: LogLevel | null;
  status: 502 | 504 | 500 | null;
  /** Causes this symptom can stand for, most likely first (from the catalogue). */
  causes: readonly CauseId[];
  count: number;
  /** Time of the first and last line, as written in the log (`YYYY/MM/DD HH:MM:SS`). */
  firstSeen: string | null;
  lastSeen: string | null;
  /** The first such line, cut to `maxExampleChars`. */
  example: string;
  /** Lines per upstream (`127.0.0.1:8080`, `unix:/run/app.sock`, `backend` for a group). */
  upstreams: CountEntry[];
}

/** Counts of the upstream error lines of one or more error logs. Plain JSON. */
export interface ErrorLogSummary {
  files: { file: string; lines: number; bytes: number; gzip: boolean; truncatedLines: number }[];
  lines: {
    total: number;
    /** Lines in nginx's error-log layout. */
    nginx: number;
    /** Classified upstream/proxy error lines, unknown ones included. */
    upstreamErrors: number;
    /** Upstream error lines matching no known pattern (counted, never dropped). */
    unknownUpstream: number;
    /** Lines not in nginx's layout (stack traces, other programs, garbage). */
    notNginx: number;
    /** Lines cut at the line-length cap. */
    truncated: number;
  };
  /** Upstream error lines by what the client got: `502`, `504`, `500`, `none` (response had started, or none). */
  statuses: Record<'502' | '504' | '500' | 'none', number>;
  /** Sorted by count, highest first. */
  patterns: PatternSummary[];
  /**
   * Lines per cause. `lines` counts every line whose symptom can stand for the cause; `primary`
   * those where it is the most likely one.
   */
  causes: { cause: CauseId; lines: number; primary: number }[];
  /** Upstream error lines per upstream, highest first. */
  upstreams: CountEntry[];
  /** Per time bucket (`YYYY-MM-DDTHH:MM:SS`, start, log's local time): 502 / 504 / all error lines. */
  timeline: { bucket: string; s502: number; s504: number; errors: number }[];
  bucketS: number;
}

/** A PatternSummary while counting: the same fields, upstreams still in their capped counter. */
interface PatternState extends Omit<PatternSummary, 'upstreams'> {
  upstreams: CappedCounter;
  /** firstSeen and lastSeen as {@link timeKey}s (-1: none yet). */
  firstKey: number;
  lastKey: number;
}

/**
 * `YYYY/MM/DD HH:MM:SS` → the number YYYYMMDDHHMMSS, which orders as the time does. Comparing
 * numbers is what keeps first/last seen cheap; a string comparison per line cost a sixth of a scan.
 */
function timeKey(time: string): number {
  let key = 0;
  for (let i = 0; i < time.length; i++) {
    const digit = time.charCodeAt(i) - 48;
    if (digit >= 0 && digit <= 9) key = key * 10 + digit;
  }
  return key;
}

/** The upstream field of a line (`http://127.0.0.1:8080/path?q`) → `127.0.0.1:8080`; `http://unix:/x.sock:/` → `unix:/x.sock`. */
export function normalizeUpstream(upstream: string): string {
  const scheme = upstream.indexOf('://');
  const from = scheme === -1 ? 0 : scheme + 3;
  if (upstream.startsWith('unix:', from)) {
    // nginx writes `unix:/x.sock:/uri` on connect errors but `unix:/x.sock/uri` on timeouts.
    const colon = upstream.indexOf(':/', from + 5);
    if (colon !== -1) return upstream.slice(from, colon);
    const rest = upstream.slice(from);
    const sock = /^unix:.*?\.sock(?:et)?(?=\/|$)/.exec(rest);
    return sock ? sock[0] : rest.replace(/\/$/, '');
  }
  const slash = upstream.indexOf('/', from);
  return slash === -1 ? upstream.slice(from) : upstream.slice(from, slash);
}

/**
 * Aggregates error-log lines one at a time (streaming: memory depends on the number of distinct
 * patterns, upstreams and buckets, all capped, never on the log's size).
 */
export class ErrorLogAggregator {
  readonly #options: ErrorLogSummaryOptions;
  readonly #patterns = new Map<string, PatternState>();
  readonly #timeline = new Map<string, { s502: number; s504: number; errors: number }>();
  readonly #bucket: (time: string) => string;
  readonly #classifier = createProxyLogClassifier();
  readonly #scratch = {} as FastClassification;
  /** Last time-bucket slot and the minute (`YYYY/MM/DD HH:MM`) it is for: logs are mostly in order. */
  #lastMinute = '';
  #lastSlot: { s502: number; s504: number; errors: number } | undefined;
  /** Time of the last counted line (a copy), its key and slot: consecutive lines mostly share a second. */
  #time = '';
  #timeKey = -1;
  #timeSlot: { s502: number; s504: number; errors: number } | undefined;
  readonly #files: ErrorLogSummary['files'] = [];
  #total = 0;
  #nginx = 0;
  #upstreamErrors = 0;
  #unknown = 0;
  #truncated = 0;
  #timelineOverflow = { s502: 0, s504: 0, errors: 0 };

  constructor(options: Partial<ErrorLogSummaryOptions> = {}) {
    this.#options = { ...ERROR_LOG_SUMMARY_DEFAULTS, ...options };
    this.#bucket = createBucketer(this.#options.bucketS);
  }

  /** Adds one line (without its newline). */
  add(line: string, truncated = false): void {
    this.#total += 1;
    if (truncated) this.#truncated += 1;
    // The layout check is cheap (the line starts with a date); the regexes run only on candidates.
    if (!looksLikeNginx(line)) return;
    this.#nginx += 1;
    const c = this.#classifier.classify(line, this.#scratch);
    if (!c) return;
    this.#upstreamErrors += 1;
    let state = this.#patterns.get(c.patternId);
    if (!state) {
      const pattern = PROXY_LOG_PATTERNS.find((p) => p.id === c.patternId);
      state = {
        id: c.patternId,
        level: pattern?.level ?? null,
        status: c.status,
        causes: c.causes,
        count: 0,
        firstSeen: null,
        lastSeen: null,
        firstKey: -1,
        lastKey: -1,
        example: detach(line.length > this.#options.maxExampleChars ? line.slice(0, this.#options.maxExampleChars) : line),
        upstreams: new CappedCounter(this.#options.maxUpstreams),
      };
      this.#patterns.set(c.patternId, state);
    }
    this.#count(state, c);
  }

  #count(state: PatternState, c: FastClassification): void {
    if (c.patternId === UNKNOWN_UPSTREAM_PATTERN) this.#unknown += 1;
    state.count += 1;
    if (c.time !== this.#time) {
      this.#time = detach(c.time);
      this.#timeKey = timeKey(this.#time);
      this.#timeSlot = this.#slot(this.#time);
    }
    // Rotated files may come in any order: first and last by time, not by position.
    const key = this.#timeKey;
    if (key > state.lastKey) {
      state.lastKey = key;
      state.lastSeen = this.#time;
    }
    if (state.firstKey === -1 || key < state.firstKey) {
      state.firstKey = key;
      state.firstSeen = this.#time;
    }
    const upstream = c.upstream === null ? '(none)' : normalizeUpstream(c.upstream);
    state.upstreams.add(upstream);
    const slot = this.#timeSlot;
    if (slot) {
      slot.errors += 1;
      if (c.status === 502) slot.s502 += 1;
      else if (c.status === 504) slot.s504 += 1;
    }
  }

  #slot(time: string): { s502: number; s504: number; errors: number } | undefined {
    if (this.#lastMinute !== '' && time.startsWith(this.#lastMinute)) return this.#lastSlot;
    const minute = this.#options.bucketS % 60 === 0 ? time.slice(0, 16) : time;
    const iso = parseErrorLogTime(time);
    if (!iso) return undefined;
    const key = this.#bucket(iso);
    let slot = this.#timeline.get(key);
    if (!slot) {
      if (this.#timeline.size >= this.#options.maxBuckets) slot = this.#timelineOverflow;
      else this.#timeline.set(key, (slot = { s502: 0, s504: 0, errors: 0 }));
    }
    this.#lastMinute = minute;
    this.#lastSlot = slot;
    return slot;
  }

  /** Records a file read to the end (for the report's file list). */
  addFile(file: { file: string; lines: number; bytes: number; gzip: boolean; truncatedLines: number }): void {
    this.#files.push(file);
  }

  summary(): ErrorLogSummary {
    const patterns = [...this.#patterns.values()]
      .sort((a, b) => b.count - a.count || a.id.localeCompare(b.id))
      .map((s) => ({
        id: s.id,
        level: s.level,
        status: s.status,
        causes: s.causes,
        count: s.count,
        firstSeen: s.firstSeen,
        lastSeen: s.lastSeen,
        example: latin1ToUtf8(s.example),
        upstreams: s.upstreams.entries().map(utf8Entry),
      }));
    const timeline = [...this.#timeline.entries()].map(([bucket, v]) => ({ bucket, ...v }));
    if (this.#timelineOverflow.errors > 0) timeline.push({ bucket: '(other)', ...this.#timelineOverflow });
    const lines = {
      total: this.#total,
      nginx: this.#nginx,
      upstreamErrors: this.#upstreamErrors,
      unknownUpstream: this.#unknown,
      notNginx: this.#total - this.#nginx,
      truncated: this.#truncated,
    };
    return finishSummary(this.#files, lines, patterns, timeline, this.#options);
  }
}

/** Derives the per-cause, per-status and per-upstream views from the patterns; sorts. */
function finishSummary(
  files: ErrorLogSummary['files'],
  lines: ErrorLogSummary['lines'],
  patterns: PatternSummary[],
  timeline: ErrorLogSummary['timeline'],
  options: ErrorLogSummaryOptions,
): ErrorLogSummary {
  patterns.sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
  const causes = new Map<CauseId, { lines: number; primary: number }>();
  const statuses = { '502': 0, '504': 0, '500': 0, none: 0 };
  for (const p of patterns) {
    p.causes.forEach((cause, i) => {
      const entry = causes.get(cause) ?? { lines: 0, primary: 0 };
      entry.lines += p.count;
      if (i === 0) entry.primary += p.count;
      causes.set(cause, entry);
    });
    statuses[p.status === null ? 'none' : (String(p.status) as '502' | '504' | '500')] += p.count;
  }
  // '(other)' sorts last: it is the overflow of the bucket cap.
  timeline.sort((a, b) => (a.bucket === '(other)' ? 1 : b.bucket === '(other)' ? -1 : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  return {
    files,
    lines,
    statuses,
    patterns,
    causes: [...causes.entries()]
      .map(([cause, v]) => ({ cause, ...v }))
      .sort((a, b) => b.primary - a.primary || b.lines - a.lines || a.cause.localeCompare(b.cause)),
    upstreams: sumUpstreams(patterns, options.maxUpstreams),
    timeline,
    bucketS: options.bucketS,
  };
}

/**
 * Merges summaries of parts of one log (rotated files, byte ranges read by parallel workers):
 * counts add up, first/last seen widen, the example is the first part's. Parts in log order.
 */
export function mergeErrorLogSummaries(parts: readonly ErrorLogSummary[], options: Partial<ErrorLogSummaryOptions> = {}): ErrorLogSummary {
  const o = { ...ERROR_LOG_SUMMARY_DEFAULTS, ...options };
  const patterns = new Map<string, PatternSummary & { counter: CappedCounter }>();
  const timeline = new Map<string, { s502: number; s504: number; errors: number }>();
  const lines = { total: 0, nginx: 0, upstreamErrors: 0, unknownUpstream: 0, notNginx: 0, truncated: 0 };
  const files: ErrorLogSummary['files'] = [];
  for (const part of parts) {
    files.push(...part.files);
    for (const key of Object.keys(lines) as (keyof typeof lines)[]) lines[key] += part.lines[key];
    for (const p of part.patterns) {
      let m = patterns.get(p.id);
      if (!m) {
        m = { ...p, count: 0, firstSeen: null, lastSeen: null, upstreams: [], counter: new CappedCounter(o.maxUpstreams) };
        patterns.set(p.id, m);
      }
      m.count += p.count;
      if (p.firstSeen !== null && (m.firstSeen === null || p.firstSeen < m.firstSeen)) m.firstSeen = p.firstSeen;
      if (p.lastSeen !== null && (m.lastSeen === null || p.lastSeen > m.lastSeen)) m.lastSeen = p.lastSeen;
      for (const u of p.upstreams) m.counter.add(u.name, u.count);
    }
    for (const b of part.timeline) {
      const key = timeline.has(b.bucket) || timeline.size < o.maxBuckets ? b.bucket : '(other)';
      const slot = timeline.get(key) ?? { s502: 0, s504: 0, errors: 0 };
      slot.s502 += b.s502;
      slot.s504 += b.s504;
      slot.errors += b.errors;
      timeline.set(key, slot);
    }
  }
  const merged = [...patterns.values()].map(({ counter, ...p }) => ({ ...p, upstreams: counter.entries() }));
  return finishSummary(files, lines, merged, [...timeline.entries()].map(([bucket, v]) => ({ bucket, ...v })), o);
}

/** All patterns' upstream counts added up (the per-pattern counts are already UTF-8). */
function sumUpstreams(patterns: readonly PatternSummary[], max: number): CountEntry[] {
  const total = new CappedCounter(max);
  for (const p of patterns) for (const u of p.upstreams) total.add(u.name, u.count);
  return total.entries();
}

function utf8Entry(entry: CountEntry): CountEntry {
  return { name: latin1ToUtf8(entry.name), count: entry.count };
}

/** `YYYY/MM/DD HH:MM:SS [` — the start of every nginx error-log line. */
function looksLikeNginx(line: string): boolean {
  return line.length > 22 && line.charCodeAt(4) === 47 /* / */ && line.charCodeAt(10) === 32 && line.charCodeAt(20) === 91 /* [ */;
}

/** Reading limits for {@link summarizeErrorLogs}. */
export interface ReadLogOptions {
  /** Lines longer than this (characters) are cut; default 16 KiB (nginx caps its own lines at 2 KiB). */
  maxLineChars: number;
  /** Read chunk size (default 64 KiB: bigger chunks only cost memory). */
  chunkBytes: number;
  /**
   * Worker threads for one big plain file, each classifying a byte range (default: the number of
   * CPUs, at most 4; 1 = no workers). gzip and stdin are read in one stream.
   */
  workers: number;
  /** Files smaller than this are read without workers (default 64 MiB). */
  parallelMinBytes: number;
  signal?: AbortSignal;
  stdin?: Readable;
}

export const READ_LOG_DEFAULTS: ReadLogOptions = {
  maxLineChars: 16 * 1024,
  chunkBytes: 64 * 1024,
  workers: Math.min(4, availableParallelism()),
  parallelMinBytes: 64 * 1024 * 1024,
};

/** Young-generation cap of a log worker, MB (V8's default of ~16-32 MB per worker adds up). */
const WORKER_YOUNG_GENERATION_MB = 4;

/** What a worker gets: one byte range of one file. */
export interface LogWorkerJob {
  file: string;
  start: number;
  end: number;
  summary: Partial<ErrorLogSummaryOptions>;
  maxLineChars: number;
  chunkBytes: number;
}

/**
 * Streams and classifies nginx-format error logs (nginx's and the built-in proxy's): `-` is stdin,
 * gzip is detected, several files are rotated parts of one log (any order). A big plain file is
 * split into byte ranges classified by worker threads and merged. Throws `BG_UNREADABLE` /
 * `BG_PERMISSION` naming a file that cannot be read.
 */
export async function summarizeErrorLogs(
  files: readonly string[],
  options: Partial<ErrorLogSummaryOptions & ReadLogOptions> = {},
): Promise<ErrorLogSummary> {
  const read = { ...READ_LOG_DEFAULTS, ...options };
  const summaryOptions: Partial<ErrorLogSummaryOptions> = {};
  for (const key of Object.keys(ERROR_LOG_SUMMARY_DEFAULTS) as (keyof ErrorLogSummaryOptions)[]) {
    if (options[key] !== undefined) summaryOptions[key] = options[key];
  }
  const parts: ErrorLogSummary[] = [];
  for (const file of files) {
    const size = file === '-' ? 0 : await plainFileSize(file);
    if (read.workers > 1 && size >= read.parallelMinBytes) {
      parts.push(await summarizeInWorkers(file, size, read, summaryOptions));
      continue;
    }
    const aggregator = new ErrorLogAggregator(summaryOptions);
    const result = await readLines(file, (line, truncated) => aggregator.add(line, truncated), read);
    aggregator.addFile({ file, lines: result.lines, bytes: result.bytes, gzip: result.gzip, truncatedLines: result.truncated });
    parts.push(aggregator.summary());
  }
  return parts.length === 1 ? parts[0]! : mergeErrorLogSummaries(parts, summaryOptions);
}

/** Size of a plain (not gzip) regular file; 0 for anything else, which is then read in one stream. */
async function plainFileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return 0;
    const handle = await open(file, 'r');
    try {
      const head = Buffer.alloc(2);
      await handle.read(head, 0, 2, 0);
      return head[0] === 0x1f && head[1] === 0x8b ? 0 : info.size;
    } finally {
      await handle.close();
    }
  } catch {
    return 0; // readLines reports the error with the file's name
  }
}

async function summarizeInWorkers(
  file: string,
  size: number,
  read: ReadLogOptions,
  summaryOptions: Partial<ErrorLogSummaryOptions>,
): Promise<ErrorLogSummary> {
  const n = read.workers;
  const jobs: LogWorkerJob[] = Array.from({ length: n }, (_, i) => ({
    file,
    start: Math.floor((size * i) / n),
    end: i === n - 1 ? Number.MAX_SAFE_INTEGER : Math.floor((size * (i + 1)) / n),
    summary: summaryOptions,
    maxLineChars: read.maxLineChars,
    chunkBytes: read.chunkBytes,
  }));
  // execArgv: [] — the parent's flags (e.g. --input-type) are not for the worker. A small young
  // generation keeps each worker's RSS low: the lines are garbage at once anyway.
  const workers = jobs.map(
    (job) =>
      new Worker(new URL('./log-worker.js', import.meta.url), {
        workerData: job,
        execArgv: [],
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      }),
  );
  const stop = (): void => {
    for (const w of workers) void w.terminate();
  };
  read.signal?.addEventListener('abort', stop, { once: true });
  try {
    const parts = await Promise.all(
      workers.map(
        (w) =>
          new Promise<ErrorLogSummary>((resolve, reject) => {
            w.once('message', (m: { summary?: ErrorLogSummary; error?: { code: string; message: string } }) => {
              if (m.summary) resolve(m.summary);
              else reject(new BadgatewayError((m.error?.code ?? ERROR_CODES.UNREADABLE) as ErrorCode, m.error?.message ?? `cannot read ${file}`));
            });
            w.once('error', reject);
            w.once('exit', (code) => reject(new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${file}: worker exited (${code})`)));
          }),
      ),
    );
    read.signal?.throwIfAborted();
    const merged = mergeErrorLogSummaries(parts, summaryOptions);
    const lines = parts.reduce((sum, p) => sum + (p.files[0]?.lines ?? 0), 0);
    const truncatedLines = parts.reduce((sum, p) => sum + (p.files[0]?.truncatedLines ?? 0), 0);
    merged.files = [{ file, lines, bytes: size, gzip: false, truncatedLines }];
    return merged;
  } finally {
    read.signal?.removeEventListener('abort', stop);
    stop();
  }
}
