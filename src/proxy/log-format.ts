/**
 * The two log formats both proxies write, defined once: the access-log format is an nginx
 * `log_format` string that nginx uses verbatim and the built-in proxy renders by substituting the
 * same variables; the error-log line is nginx's own layout.
 */
import { escapeLogValue } from '../http1/index.js';

/**
 * nginx `log_format badgateway`: the combined format plus the upstream's status and timings
 * (`$upstream_status` is `-` when no upstream answered, several values are `, `-separated after
 * a retry; times in seconds with millisecond resolution).
 */
export const ACCESS_LOG_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" ' +
  'upstream_status=$upstream_status upstream_response_time=$upstream_response_time request_time=$request_time';

/** Variable values for {@link renderAccessLogLine}; a missing or empty one renders as `-` like nginx. */
export type AccessLogVars = Partial<Record<AccessLogVariable, string | number>>;
export type AccessLogVariable =
  | 'remote_addr'
  | 'remote_user'
  | 'time_local'
  | 'request'
  | 'status'
  | 'body_bytes_sent'
  | 'http_referer'
  | 'http_user_agent'
  | 'upstream_status'
  | 'upstream_response_time'
  | 'request_time';

// The format split once into literal text and variable names (this runs once per request).
const ACCESS_LOG_PARTS: readonly (string | { name: AccessLogVariable })[] = ACCESS_LOG_FORMAT.split(/(\$[a-z_]+)/).map(
  (part) => (part.startsWith('$') ? { name: part.slice(1) as AccessLogVariable } : part),
);

/**
 * One access-log line (without the newline) in {@link ACCESS_LOG_FORMAT}. Text values are escaped
 * as nginx escapes them (`\x22` for `"`, control bytes and bytes ≥ 0x7f as `\xHH`), so a request
 * cannot forge a field, a line or a terminal escape sequence.
 */
export function renderAccessLogLine(vars: AccessLogVars): string {
  let line = '';
  for (const part of ACCESS_LOG_PARTS) {
    if (typeof part === 'string') {
      line += part;
    } else {
      const value = vars[part.name];
      line +=
        value === undefined || value === '' ? '-' : typeof value === 'number' ? String(value) : escapeLogValue(value);
    }
  }
  return line;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

let cachedSecond = -1;
let cachedTimeLocal = '';

/** nginx's `$time_local`: `26/Nov/2026:07:47:01 +0000` (local time); cached per second like nginx's. */
export function formatTimeLocal(time: Date | number): string {
  const ms = typeof time === 'number' ? time : time.getTime();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedTimeLocal = renderTimeLocal(new Date(second * 1000));
    cachedSecond = second;
  }
  return cachedTimeLocal;
}

function renderTimeLocal(date: Date): string {
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${pad(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(
    date.getSeconds(),
  )} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

/** nginx's error-log time: `2026/11/26 07:47:01` (local time). */
export function formatErrorLogTime(date: Date): string {
  return `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(
    date.getSeconds(),
  )}`;
}

/** Fields of one nginx error-log line about a request. */
export interface ErrorLogEntry {
  time: Date;
  level: 'alert' | 'crit' | 'error' | 'warn' | 'info';
  pid: number;
  /** Thread id after the `#`; nginx on Linux writes its pid again (`1234#1234`). Default `pid`. */
  tid?: number;
  /** nginx's connection serial (`*N`). */
  connectionId: number;
  /** e.g. `connect() failed (111: Connection refused) while connecting to upstream` */
  message: string;
  client: string;
  server: string;
  /** The request line, e.g. `GET / HTTP/1.1`; absent before one was read (nginx then omits it). */
  request?: string;
  /** `http://127.0.0.1:8080/path` or `http://unix:/tmp/app.sock:/path`. */
  upstream?: string;
  host?: string;
}

/**
 * One line (no newline) the way nginx 1.22 writes it:
 * `2026/11/26 07:47:01 [error] 1234#1234: *5 <message>, client: 127.0.0.1, server: localhost,
 * request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1:8081"`.
 * The fields a client controls (request, upstream URI, host) are escaped like the access log's:
 * nginx writes them raw here, which lets a request forge fields that doctor reads.
 */
export function renderErrorLogLine(entry: ErrorLogEntry): string {
  let line = `${formatErrorLogTime(entry.time)} [${entry.level}] ${entry.pid}#${entry.tid ?? entry.pid}: *${entry.connectionId} ${entry.message}, client: ${
    entry.client
  }, server: ${entry.server}`;
  if (entry.request !== undefined) line += `, request: "${escapeLogValue(entry.request)}"`;
  if (entry.upstream !== undefined) line += `, upstream: "${escapeLogValue(entry.upstream)}"`;
  if (entry.host !== undefined) line += `, host: "${escapeLogValue(entry.host)}"`;
  return line;
}

/**
 * Strips what changes from run to run — time, pid, connection id, ports, temp paths — so two
 * proxies' lines can be compared: `[error] connect() failed (111: ...) ..., upstream: "http://127.0.0.1:PORT/"`.
 */
export function normalizeErrorLogLine(line: string, replacements: Readonly<Record<string, string>> = {}): string {
  let out = line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (?:\*\d+ )?/, '$1 ');
  for (const [from, to] of Object.entries(replacements)) out = out.split(from).join(to);
  return out.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
}
