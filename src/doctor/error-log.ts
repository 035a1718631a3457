import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { BadgatewayError, ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { detach, latin1ToUtf8, readLines } from './lines.js';
import {
  LINE,
  PROXY_LOG_PATTERNS,
  UNKNOWN_UPSTREAM_PATTERN,
  createFormatClassifier,
  createLogLineClassifier,
  describeFormats,
  type FormatClassifier,
  type LineKind,
  type CauseId,
  type FastClassification,
  type LogLevel,
  type ProxyLogFormat,
  type ProxyLogFormatChoice,
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
  /** The log's format, or `auto` to sniff it line by line (default `nginx`: an nginx-format error log). */
  format: ProxyLogFormatChoice;
}

export const ERROR_LOG_SUMMARY_DEFAULTS: ErrorLogSummaryOptions = {
  bucketS: 60,
  maxUpstreams: 1000,
  maxBuckets: 10_000,
  maxExampleChars: 1000,
  format: 'nginx',
};

/** One kind of upstream error line, as counted in a log. */
export interface PatternSummary {
  /** A PROXY_LOG_PATTERNS id, or `unknown-upstream-error`. */
  id: string;
  /** nginx's level; null for the other formats (they have none per line). */
  level: LogLevel | null;
  /** The format of the lines (nginx's patterns and each proxy's signals have distinct ids). */
  format: ProxyLogFormat;
  /** What the client got, as the first such line says (see ErrorLogSummary.statuses for every line's). */
  status: 500 | 502 | 503 | 504 | null;
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
  files: LogFileEntry[];
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
    /** Lines in one of the proxy formats read (nginx's and the others'): `proxy + notProxy = total`. */
    proxy: number;
    /** Lines in none of them (stack traces, other programs, garbage). */
    notProxy: number;
  };
  /** Proxy lines per format (only formats with lines). */
  formats: Partial<Record<ProxyLogFormat, number>>;
  /**
   * Known lines that are no proxy cause, by kind: the client went away (HAProxy `CD`/`CH`, Envoy
   * `DC`, ALB 460, Traefik 499), a 5xx the upstream itself sent (ALB `target_status_code 502`, Envoy
   * `via_upstream`), a health-check request.
   */
  ignored: { clientAbort: number; appError: number; healthCheck: number };
  /** Upstream error lines by what the client got: `502`, `503`, `504`, `500`, `none` (response had started, or none). */
  statuses: Record<'502' | '503' | '504' | '500' | 'none', number>;
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

/** One file read; `error` when it could not be read to the end (a truncated gzip: what came before is counted). */
export interface LogFileEntry {
  file: string;
  lines: number;
  bytes: number;
  gzip: boolean;
  truncatedLines: number;
  /** The format it was read as (`auto`: sniffed per line). */
  format?: ProxyLogFormatChoice;
  error?: string;
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
  readonly #classifier: ReturnType<typeof createLogLineClassifier>;
  /** The one format's classifier when there is one (no sniffing: the hot path of a big log). */
  readonly #single: FormatClassifier | undefined;
  readonly #singleFormat: ProxyLogFormat | undefined;
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
  #proxy = 0;
  readonly #formats: Partial<Record<ProxyLogFormat, number>> = {};
  readonly #ignored = { clientAbort: 0, appError: 0, healthCheck: 0 };
  // Per line, as numbers: a string key per line cost a few percent of a scan.
  #s502 = 0;
  #s503 = 0;
  #s504 = 0;
  #s500 = 0;
  #sNone = 0;
  #upstreamErrors = 0;
  #unknown = 0;
  #truncated = 0;
  #timelineOverflow = { s502: 0, s504: 0, errors: 0 };

  constructor(options: Partial<ErrorLogSummaryOptions> = {}) {
    this.#options = { ...ERROR_LOG_SUMMARY_DEFAULTS, ...options };
    this.#bucket = createBucketer(this.#options.bucketS);
    this.#classifier = createLogLineClassifier(this.#options.format);
    this.#singleFormat = this.#options.format === 'auto' ? undefined : this.#options.format;
    this.#single = this.#singleFormat === undefined ? undefined : createFormatClassifier(this.#singleFormat);
  }

  /** Adds one line (without its newline). */
  add(line: string, truncated = false): void {
    this.#total += 1;
    if (truncated) this.#truncated += 1;
    // Each format checks its layout cheaply first (nginx: the line starts with a date); the regexes
    // run only on candidates.
    const c = this.#scratch;
    let kind: LineKind;
    let format: ProxyLogFormat;
    if (this.#single !== undefined) {
      kind = this.#single.classify(line, c);
      if (kind === LINE.FOREIGN) return;
      format = this.#singleFormat!;
    } else {
      const sniffed = this.#classifier.classify(line, c);
      if (sniffed.format === null) return;
      kind = sniffed.kind;
      format = sniffed.format;
      this.#formats[format] = (this.#formats[format] ?? 0) + 1;
    }
    this.#proxy += 1;
    if (format === 'nginx') this.#nginx += 1;
    if (kind !== LINE.FAILURE) {
      if (kind === LINE.CLIENT_ABORT) this.#ignored.clientAbort += 1;
      else if (kind === LINE.APP_ERROR) this.#ignored.appError += 1;
      else if (kind === LINE.HEALTH_CHECK) this.#ignored.healthCheck += 1;
      return;
    }
    this.#upstreamErrors += 1;
    const status = c.status;
    if (status === 502) this.#s502 += 1;
    else if (status === 504) this.#s504 += 1;
    else if (status === 503) this.#s503 += 1;
    else if (status === 500) this.#s500 += 1;
    else this.#sNone += 1;
    let state = this.#patterns.get(c.patternId);
    if (!state) {
      const pattern = format === 'nginx' ? PROXY_LOG_PATTERNS.find((p) => p.id === c.patternId) : undefined;
      state = {
        id: c.patternId,
        level: format === 'nginx' ? (pattern?.level ?? c.level) : null,
        format,
        status: c.status,
        causes: c.causes,
        count: 0,
        firstSeen: null,
        lastSeen: null,
        firstKey: -1,
        lastKey: -1,
        example: detach(
          line.length > this.#options.maxExampleChars ? line.slice(0, this.#options.maxExampleChars) : line,
        ),
        upstreams: new CappedCounter(this.#options.maxUpstreams),
      };
      this.#patterns.set(c.patternId, state);
    }
    this.#count(state, c, format);
  }

  #count(state: PatternState, c: FastClassification, format: ProxyLogFormat): void {
    if (c.patternId === UNKNOWN_UPSTREAM_PATTERN) this.#unknown += 1;
    state.count += 1;
    const upstream = c.upstream === null ? '(none)' : format === 'nginx' ? normalizeUpstream(c.upstream) : c.upstream;
    state.upstreams.add(upstream);
    // Lines without a time of their own (HAProxy's health-check messages) count, but see no clock.
    if (c.time === '') return;
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

  /** Lines of the formats read so far: a file with lines but none of these is in an unknown format. */
  get proxyLines(): number {
    return this.#proxy;
  }

  /** Records a file read (for the report's file list). */
  addFile(file: LogFileEntry): void {
    this.#files.push(file);
  }

  summary(): ErrorLogSummary {
    const patterns = [...this.#patterns.values()]
      .sort((a, b) => b.count - a.count || a.id.localeCompare(b.id))
      .map((s) => ({
        id: s.id,
        level: s.level,
        format: s.format,
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
      proxy: this.#proxy,
      notProxy: this.#total - this.#proxy,
    };
    const formats =
      this.#singleFormat === undefined
        ? { ...this.#formats }
        : this.#proxy > 0
          ? { [this.#singleFormat]: this.#proxy }
          : {};
    const statuses = { '502': this.#s502, '503': this.#s503, '504': this.#s504, '500': this.#s500, none: this.#sNone };
    return finishSummary(
      this.#files,
      lines,
      { formats, ignored: { ...this.#ignored }, statuses },
      patterns,
      timeline,
      this.#options,
    );
  }
}

/** Derives the per-cause, per-status and per-upstream views from the patterns; sorts. */
function finishSummary(
  files: ErrorLogSummary['files'],
  lines: ErrorLogSummary['lines'],
  counts: Pick<ErrorLogSummary, 'formats' | 'ignored' | 'statuses'>,
  patterns: PatternSummary[],
  timeline: ErrorLogSummary['timeline'],
  options: ErrorLogSummaryOptions,
): ErrorLogSummary {
  patterns.sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
  const causes = new Map<CauseId, { lines: number; primary: number }>();
  for (const p of patterns) {
    p.causes.forEach((cause, i) => {
      const entry = causes.get(cause) ?? { lines: 0, primary: 0 };
      entry.lines += p.count;
      if (i === 0) entry.primary += p.count;
      causes.set(cause, entry);
    });
  }
  // '(other)' sorts last: it is the overflow of the bucket cap.
  timeline.sort((a, b) =>
    a.bucket === '(other)' ? 1 : b.bucket === '(other)' ? -1 : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0,
  );
  return {
    files,
    lines,
    formats: counts.formats,
    ignored: counts.ignored,
    statuses: counts.statuses,
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
export function mergeErrorLogSummaries(
  parts: readonly ErrorLogSummary[],
  options: Partial<ErrorLogSummaryOptions> = {},
): ErrorLogSummary {
  const o = { ...ERROR_LOG_SUMMARY_DEFAULTS, ...options };
  const patterns = new Map<string, PatternSummary & { counter: CappedCounter }>();
  const timeline = new Map<string, { s502: number; s504: number; errors: number }>();
  const lines = {
    total: 0,
    nginx: 0,
    upstreamErrors: 0,
    unknownUpstream: 0,
    notNginx: 0,
    truncated: 0,
    proxy: 0,
    notProxy: 0,
  };
  const counts: Pick<ErrorLogSummary, 'formats' | 'ignored' | 'statuses'> = {
    formats: {},
    ignored: { clientAbort: 0, appError: 0, healthCheck: 0 },
    statuses: { '502': 0, '503': 0, '504': 0, '500': 0, none: 0 },
  };
  const files: ErrorLogSummary['files'] = [];
  for (const part of parts) {
    files.push(...part.files);
    for (const key of Object.keys(lines) as (keyof typeof lines)[]) lines[key] += part.lines[key];
    for (const [f, n] of Object.entries(part.formats) as [ProxyLogFormat, number][])
      counts.formats[f] = (counts.formats[f] ?? 0) + n;
    for (const key of Object.keys(counts.ignored) as (keyof ErrorLogSummary['ignored'])[])
      counts.ignored[key] += part.ignored[key];
    for (const key of Object.keys(counts.statuses) as (keyof ErrorLogSummary['statuses'])[])
      counts.statuses[key] += part.statuses[key];
    for (const p of part.patterns) {
      let m = patterns.get(p.id);
      if (!m) {
        m = {
          ...p,
          count: 0,
          firstSeen: null,
          lastSeen: null,
          upstreams: [],
          counter: new CappedCounter(o.maxUpstreams),
        };
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
  return finishSummary(
    files,
    lines,
    counts,
    merged,
    [...timeline.entries()].map(([bucket, v]) => ({ bucket, ...v })),
    o,
  );
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
  /** Summary options, `format` included. */
  summary: Partial<ErrorLogSummaryOptions>;
  maxLineChars: number;
  chunkBytes: number;
}

/** One log to read and the format its lines are in (`auto`: sniffed line by line). */
export interface ProxyLogInput {
  file: string;
  format: ProxyLogFormatChoice;
}

/**
 * Streams and classifies nginx-format error logs (nginx's and the built-in proxy's): `-` is stdin,
 * gzip is detected, several files are rotated parts of one log (any order). A big plain file is
 * split into byte ranges classified by worker threads and merged. Throws `BG_UNREADABLE` /
 * `BG_PERMISSION` naming a file that cannot be read. {@link summarizeProxyLogs} reads the other
 * formats.
 */
export async function summarizeErrorLogs(
  files: readonly string[],
  options: Partial<ErrorLogSummaryOptions & ReadLogOptions> = {},
): Promise<ErrorLogSummary> {
  return summarizeProxyLogs(
    files.map((file) => ({ file, format: options.format ?? 'nginx' })),
    options,
  );
}

/**
 * {@link summarizeErrorLogs} for logs of any proxy format, each file in its own (HAProxy httplog,
 * Caddy JSON, Envoy, Traefik, ALB, nginx, or `auto`), all counted into one summary: pattern and
 * signal ids are distinct per proxy. A file whose lines are in none of its formats is
 * `BG_UNKNOWN_FORMAT` naming the formats tried. A gzip file that ends early (truncated, corrupt) is
 * counted up to where it breaks and its entry in `files` says so (`error`).
 */
export async function summarizeProxyLogs(
  inputs: readonly ProxyLogInput[],
  options: Partial<ErrorLogSummaryOptions & ReadLogOptions> = {},
): Promise<ErrorLogSummary> {
  const read = { ...READ_LOG_DEFAULTS, ...options };
  const summaryOptions: Partial<ErrorLogSummaryOptions> = {
    ...(options.bucketS === undefined ? {} : { bucketS: options.bucketS }),
    ...(options.maxUpstreams === undefined ? {} : { maxUpstreams: options.maxUpstreams }),
    ...(options.maxBuckets === undefined ? {} : { maxBuckets: options.maxBuckets }),
    ...(options.maxExampleChars === undefined ? {} : { maxExampleChars: options.maxExampleChars }),
  };
  const parts: ErrorLogSummary[] = [];
  for (const { file, format } of inputs) {
    const fileOptions = { ...summaryOptions, format };
    const size = file === '-' ? 0 : await plainFileSize(file);
    if (read.workers > 1 && size >= read.parallelMinBytes) {
      const part = await summarizeInWorkers(file, size, read, fileOptions);
      assertKnownFormat(file, format, part.lines.total, part.lines.proxy);
      parts.push(part);
      continue;
    }
    const aggregator = new ErrorLogAggregator(fileOptions);
    let blank = 0;
    const onLine = (line: string, truncated: boolean): void => {
      if (line.length === 0) blank += 1;
      aggregator.add(line, truncated);
    };
    try {
      const result = await readLines(file, onLine, read);
      aggregator.addFile({
        file,
        lines: result.lines,
        bytes: result.bytes,
        gzip: result.gzip,
        truncatedLines: result.truncated,
        format,
      });
    } catch (err) {
      const broken = brokenGzip(err);
      if (broken === undefined) throw err;
      const lines = aggregator.summary().lines.total;
      aggregator.addFile({
        file,
        lines,
        bytes: 0,
        gzip: true,
        truncatedLines: 0,
        format,
        error: `${broken} after ${lines} line${lines === 1 ? '' : 's'}`,
      });
    }
    const summary = aggregator.summary();
    assertKnownFormat(file, format, summary.lines.total - blank, summary.lines.proxy);
    parts.push(summary);
  }
  return parts.length === 1 ? parts[0]! : mergeErrorLogSummaries(parts, summaryOptions);
}

/** `BG_UNKNOWN_FORMAT` when a file has lines but none is in the formats it was read as. */
function assertKnownFormat(file: string, format: ProxyLogFormatChoice, lines: number, proxyLines: number): void {
  if (lines === 0 || proxyLines > 0) return;
  const tried = format === 'auto' ? createLogLineClassifier('auto').formats : [format];
  throw new BadgatewayError(
    ERROR_CODES.UNKNOWN_FORMAT,
    `${file === '-' ? 'standard input' : file}: none of its ${lines} line${lines === 1 ? ' is' : 's is'} in a known format (tried: ${describeFormats(tried)})`,
  );
}

/** The reason a gzip stream broke (truncated or corrupt), or undefined for any other error. */
function brokenGzip(err: unknown): string | undefined {
  if (!(err instanceof BadgatewayError) || err.code !== ERROR_CODES.UNREADABLE) return undefined;
  const code =
    typeof err.cause === 'object' && err.cause !== null && 'code' in err.cause
      ? String((err.cause as { code: unknown }).code)
      : '';
  if (code === 'Z_BUF_ERROR') return 'truncated gzip data (unexpected end of file)';
  if (code.startsWith('Z_')) return `corrupt gzip data (${(err.cause as Error).message})`;
  return undefined;
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
              else
                reject(
                  new BadgatewayError(
                    (m.error?.code ?? ERROR_CODES.UNREADABLE) as ErrorCode,
                    m.error?.message ?? `cannot read ${file}`,
                  ),
                );
            });
            w.once('error', reject);
            w.once('exit', (code) =>
              reject(new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${file}: worker exited (${code})`)),
            );
          }),
      ),
    );
    read.signal?.throwIfAborted();
    const merged = mergeErrorLogSummaries(parts, summaryOptions);
    const lines = parts.reduce((sum, p) => sum + (p.files[0]?.lines ?? 0), 0);
    const truncatedLines = parts.reduce((sum, p) => sum + (p.files[0]?.truncatedLines ?? 0), 0);
    merged.files = [
      {
        file,
        lines,
        bytes: size,
        gzip: false,
        truncatedLines,
        ...(summaryOptions.format === undefined ? {} : { format: summaryOptions.format }),
      },
    ];
    return merged;
  } finally {
    read.signal?.removeEventListener('abort', stop);
    stop();
  }
}
