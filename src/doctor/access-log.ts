import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import type { Readable } from 'node:stream';
import { CappedCounter } from './counter.js';
import { detach, latin1ToUtf8, readLines } from './lines.js';
import { createBucketer, parseIsoTime, parseTimeLocal } from './time-bucket.js';
import { READ_LOG_DEFAULTS, type ReadLogOptions } from './error-log.js';

/**
 * Access-log line formats doctor reads, detected line by line (a file may mix them):
 *
 * - `combined`: nginx's predefined `combined` format. Only the client's `$status` is known.
 * - `combined+upstream`: `combined` followed by `key=value` fields. Keys (long or short form):
 *   `upstream_status`/`us`, `upstream_addr`/`ua`, `upstream_response_time`/`urt`,
 *   `request_time`/`rt`. badgateway's proxies write `upstream_status=… upstream_response_time=…
 *   request_time=…` (src/proxy's `log_format badgateway`); add `upstream_addr=$upstream_addr`
 *   to get counts per upstream.
 * - `json`: one JSON object per line (`log_format … escape=json`), keys `status`,
 *   `upstream_status`, `upstream_addr`, `upstream_response_time`, `request_time`, and
 *   `time_local` or `time_iso8601`.
 *
 * `$upstream_status` / `$upstream_addr` hold one value per upstream tried, `, `-separated
 * (` : ` after an internal redirect); doctor pairs them up.
 */
export type AccessLogFormat = 'combined' | 'combined+upstream' | 'json';

/** One access-log line, parsed. */
export interface AccessLogRecord {
  format: AccessLogFormat;
  /** `YYYY-MM-DDTHH:MM:SS`, the log's local time, or null. */
  time: string | null;
  /** What the client got. */
  status: number;
  /** Upstream attempts in order; empty when the line does not log them or none was tried. */
  attempts: { upstream: string | null; status: number | null }[];
  /** Whether the line logs `$upstream_addr` (else attempts have `upstream: null`). */
  upstreamLogged: boolean;
}

const COMBINED =
  /^\S+ \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (\d{3}) (?:\d+|-)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?(.*)$/;
const KEY_ALIASES: Record<string, 'us' | 'ua' | 'urt' | 'rt'> = {
  upstream_status: 'us',
  us: 'us',
  upstream_addr: 'ua',
  ua: 'ua',
  upstream_response_time: 'urt',
  urt: 'urt',
  request_time: 'rt',
  rt: 'rt',
};

/** Parses one access-log line in any of the {@link AccessLogFormat}s; undefined for anything else. Never throws. */
export function parseAccessLogLine(line: string): AccessLogRecord | undefined {
  if (line.charCodeAt(0) === 123 /* { */) return parseJsonLine(line);
  const m = COMBINED.exec(line);
  if (!m) return undefined;
  const status = Number(m[2]);
  const fields = parseKeyValues(m[3] ?? '');
  const time = parseTimeLocal(m[1] ?? '') ?? null;
  if (fields.us === undefined && fields.ua === undefined)
    return { format: 'combined', time, status, attempts: [], upstreamLogged: false };
  return {
    format: 'combined+upstream',
    time,
    status,
    attempts: pairAttempts(fields.ua, fields.us),
    upstreamLogged: fields.ua !== undefined,
  };
}

function parseKeyValues(rest: string): Partial<Record<'us' | 'ua' | 'urt' | 'rt', string>> {
  const out: Partial<Record<'us' | 'ua' | 'urt' | 'rt', string>> = {};
  const keys = [...rest.matchAll(/(?:^|\s)([a-z_]+)=/g)];
  keys.forEach((k, i) => {
    const alias = KEY_ALIASES[k[1] ?? ''];
    if (!alias) return;
    const start = (k.index ?? 0) + k[0].length;
    const end = i + 1 < keys.length ? (keys[i + 1]!.index ?? rest.length) : rest.length;
    out[alias] = rest.slice(start, end).trim().replace(/^"|"$/g, '');
  });
  return out;
}

/** `127.0.0.1:1, 127.0.0.1:2` + `502, 200` → two attempts; `-` = not tried / no value. */
function pairAttempts(addrs: string | undefined, statuses: string | undefined): AccessLogRecord['attempts'] {
  const split = (v: string | undefined): string[] =>
    v === undefined || v === '' ? [] : v.split(/\s*(?:,|:(?=\s))\s*/).filter((x) => x !== '');
  const a = split(addrs);
  const s = split(statuses);
  const n = Math.max(a.length, s.length);
  const attempts: AccessLogRecord['attempts'] = [];
  for (let i = 0; i < n; i++) {
    const upstream = addrs === undefined ? null : (a[i] ?? null);
    const statusText = s[i];
    const status = statusText !== undefined && /^\d{3}$/.test(statusText) ? Number(statusText) : null;
    if ((upstream === null || upstream === '-') && status === null) continue;
    attempts.push({ upstream: upstream === '-' ? null : upstream, status });
  }
  return attempts;
}

function parseJsonLine(line: string): AccessLogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  const status = Number(o['status']);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const text = (k: string): string | undefined =>
    typeof o[k] === 'string' || typeof o[k] === 'number' ? String(o[k]) : undefined;
  const timeLocal = text('time_local');
  const iso = text('time_iso8601') ?? text('time');
  const time =
    (timeLocal !== undefined ? parseTimeLocal(timeLocal) : undefined) ??
    (iso !== undefined ? parseIsoTime(iso) : undefined) ??
    null;
  const us = text('upstream_status');
  const ua = text('upstream_addr');
  return {
    format: 'json',
    time,
    status,
    attempts: us === undefined && ua === undefined ? [] : pairAttempts(ua, us),
    upstreamLogged: ua !== undefined,
  };
}

/** 502s and 504s seen on one upstream. */
export interface AccessLogUpstream {
  /** `127.0.0.1:8080`, `unix:/run/app.sock`, or `(not logged)` when the format has no `upstream_addr`. */
  name: string;
  /** Attempts against this upstream. */
  attempts: number;
  /** Attempts it answered (per `$upstream_status`) with 502 / 504. */
  s502: number;
  s504: number;
}

/** Counts from one or more access logs. Plain JSON. */
export interface AccessLogSummary {
  files: { file: string; lines: number; bytes: number; gzip: boolean; truncatedLines: number }[];
  lines: { total: number; parsed: number; unparsed: number; byFormat: Record<AccessLogFormat, number> };
  /** Requests by the status the client got (`"200"`, `"502"` …). */
  statuses: Record<string, number>;
  /** Client-side 502 and 504 totals. */
  s502: number;
  s504: number;
  /** Per upstream (from `$upstream_addr` + `$upstream_status`), most 502+504 first. */
  upstreams: AccessLogUpstream[];
  /** Per time bucket: requests and client-side 502 / 504. */
  timeline: { bucket: string; requests: number; s502: number; s504: number }[];
  bucketS: number;
}

/** Streaming aggregator of access-log lines; memory bounded by the caps on upstreams and buckets. */
export class AccessLogAggregator {
  readonly #bucket: (time: string) => string;
  readonly #bucketS: number;
  readonly #maxBuckets: number;
  readonly #maxUpstreams: number;
  readonly #statuses = new CappedCounter(1000);
  readonly #upstreams = new Map<string, AccessLogUpstream>();
  readonly #timeline = new Map<string, { requests: number; s502: number; s504: number }>();
  readonly #files: AccessLogSummary['files'] = [];
  readonly #byFormat: Record<AccessLogFormat, number> = { combined: 0, 'combined+upstream': 0, json: 0 };
  #total = 0;
  #parsed = 0;
  #s502 = 0;
  #s504 = 0;

  constructor({
    bucketS = 60,
    maxBuckets = 10_000,
    maxUpstreams = 1000,
  }: { bucketS?: number; maxBuckets?: number; maxUpstreams?: number } = {}) {
    this.#bucketS = bucketS;
    this.#bucket = createBucketer(bucketS);
    this.#maxBuckets = maxBuckets;
    this.#maxUpstreams = maxUpstreams;
  }

  add(line: string): void {
    this.#total += 1;
    const record = parseAccessLogLine(line);
    if (!record) return;
    this.#parsed += 1;
    this.#byFormat[record.format] += 1;
    this.#statuses.add(String(record.status));
    if (record.status === 502) this.#s502 += 1;
    else if (record.status === 504) this.#s504 += 1;
    for (const attempt of record.attempts) {
      const name = attempt.upstream ?? (record.upstreamLogged ? '(none)' : '(not logged)');
      let u = this.#upstreams.get(name);
      if (!u) {
        const key = this.#upstreams.size >= this.#maxUpstreams ? '(other)' : detach(name);
        u = this.#upstreams.get(key) ?? { name: key, attempts: 0, s502: 0, s504: 0 };
        this.#upstreams.set(key, u);
      }
      u.attempts += 1;
      if (attempt.status === 502) u.s502 += 1;
      else if (attempt.status === 504) u.s504 += 1;
    }
    if (record.time) {
      const key = this.#bucket(record.time);
      let slot = this.#timeline.get(key);
      if (!slot) {
        const k = this.#timeline.size >= this.#maxBuckets ? '(other)' : key;
        slot = this.#timeline.get(k) ?? { requests: 0, s502: 0, s504: 0 };
        this.#timeline.set(k, slot);
      }
      slot.requests += 1;
      if (record.status === 502) slot.s502 += 1;
      else if (record.status === 504) slot.s504 += 1;
    }
  }

  /** Lines parsed so far (all files). */
  get parsed(): number {
    return this.#parsed;
  }

  addFile(file: AccessLogSummary['files'][number]): void {
    this.#files.push(file);
  }

  summary(): AccessLogSummary {
    const statuses: Record<string, number> = {};
    for (const { name, count } of this.#statuses.entries()) statuses[name] = count;
    return {
      files: this.#files,
      lines: {
        total: this.#total,
        parsed: this.#parsed,
        unparsed: this.#total - this.#parsed,
        byFormat: this.#byFormat,
      },
      statuses,
      s502: this.#s502,
      s504: this.#s504,
      upstreams: [...this.#upstreams.values()]
        .map((u) => ({ ...u, name: latin1ToUtf8(u.name) }))
        .sort((a, b) => b.s502 + b.s504 - (a.s502 + a.s504) || b.attempts - a.attempts || a.name.localeCompare(b.name)),
      timeline: [...this.#timeline.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([bucket, v]) => ({ bucket, ...v })),
      bucketS: this.#bucketS,
    };
  }
}

/** The access-log formats doctor reads, as `--help` and the errors name them. */
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['combined', 'combined+upstream', 'json'];

/**
 * Streams access logs (`-` = stdin, gzip detected) into an {@link AccessLogSummary}. A file with
 * lines of which none parses is `BG_UNKNOWN_FORMAT`: counting nothing from it would read as a log
 * without a 502.
 */
export async function summarizeAccessLogs(
  files: readonly string[],
  options: Partial<ReadLogOptions> & { bucketS?: number; stdin?: Readable } = {},
): Promise<AccessLogSummary> {
  const read = { ...READ_LOG_DEFAULTS, ...options };
  const aggregator = new AccessLogAggregator(options.bucketS === undefined ? {} : { bucketS: options.bucketS });
  for (const file of files) {
    const parsedBefore = aggregator.parsed;
    let nonBlank = 0;
    const r = await readLines(
      file,
      (line) => {
        if (line.trim() !== '') nonBlank += 1;
        aggregator.add(line);
      },
      read,
    );
    aggregator.addFile({ file, lines: r.lines, bytes: r.bytes, gzip: r.gzip, truncatedLines: r.truncated });
    if (nonBlank > 0 && aggregator.parsed === parsedBefore) {
      const name = file === '-' ? 'standard input' : file;
      throw new BadgatewayError(
        ERROR_CODES.UNKNOWN_FORMAT,
        `no line of ${name} is in a format doctor reads (tried: ${ACCESS_LOG_FORMATS.join(', ')})`,
      );
    }
  }
  return aggregator.summary();
}
