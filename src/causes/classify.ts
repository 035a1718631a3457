import type { CauseId } from './catalogue.js';
import { PROXY_LOG_PATTERNS, UNKNOWN_UPSTREAM_PATTERN, type LogLevel, type ProxyLogPattern } from './patterns.js';

/** An nginx-format error-log line, split into its parts. */
export interface ErrorLogLine {
  /** `YYYY/MM/DD HH:MM:SS` as written (local time of the proxy). */
  time: string;
  level: LogLevel;
  pid: number;
  /** Connection number (`*N`), when the line has one. */
  connection: number | null;
  /** The message, without the `, client: …` context. */
  message: string;
  client: string | null;
  server: string | null;
  request: string | null;
  upstream: string | null;
  host: string | null;
}

export interface Classification extends ErrorLogLine {
  /** Id of the matching PROXY_LOG_PATTERNS entry, or `unknown-upstream-error`. */
  patternId: string;
  causes: readonly CauseId[];
  /** What the client got (null: response already started, or no response). */
  status: 502 | 504 | 500 | null;
}

const LINE = /^(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (\d+)#\d+: (?:\*(\d+) )?(.*)$/;
const CONTEXT_FIELDS = ['client', 'server', 'request', 'upstream', 'host'] as const;

/** Splits an nginx-format error-log line; undefined for anything else. Never throws. */
export function parseErrorLogLine(line: string): ErrorLogLine | undefined {
  const m = LINE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
  if (!m) return undefined;
  const rest = m[5] ?? '';
  // Context starts at the first ", client: " (nginx appends it after the message).
  const at = rest.indexOf(', client: ');
  const message = at === -1 ? rest : rest.slice(0, at);
  const context = at === -1 ? '' : rest.slice(at);
  const parsed: ErrorLogLine = {
    time: m[1] ?? '',
    level: (m[2] ?? 'error') as LogLevel,
    pid: Number(m[3]),
    connection: m[4] === undefined ? null : Number(m[4]),
    message,
    client: null,
    server: null,
    request: null,
    upstream: null,
    host: null,
  };
  for (const field of CONTEXT_FIELDS) parsed[field] = contextField(context, field);
  return parsed;
}

function contextField(context: string, field: string): string | null {
  const key = `, ${field}: `;
  const at = context.indexOf(key);
  if (at === -1) return null;
  const start = at + key.length;
  if (context[start] === '"') {
    const end = context.indexOf('"', start + 1);
    return context.slice(start + 1, end === -1 ? undefined : end);
  }
  const end = context.indexOf(',', start);
  return context.slice(start, end === -1 ? undefined : end);
}

/** The first pattern whose regex matches `message`, or undefined. */
export function matchProxyLogPattern(message: string): ProxyLogPattern | undefined {
  return PROXY_LOG_PATTERNS.find((p) => p.regex.test(message));
}

/**
 * Classifies one error-log line of nginx or the built-in proxy. Returns undefined for lines that
 * are not about a failed upstream or the proxy's own resources (startup notices, client errors);
 * an upstream error matching no known pattern is returned as `unknown-upstream-error`, so callers
 * count it rather than drop it.
 */
export function classifyProxyLogLine(line: string): Classification | undefined {
  const parsed = parseErrorLogLine(line);
  if (!parsed) return undefined;
  const pattern = matchProxyLogPattern(parsed.message);
  if (pattern) return { ...parsed, patternId: pattern.id, causes: pattern.causes, status: pattern.status };
  if (parsed.upstream !== null || parsed.message.includes('upstream')) {
    return { ...parsed, patternId: UNKNOWN_UPSTREAM_PATTERN, causes: [], status: null };
  }
  return undefined;
}

/** The message with numbers that vary between runs (addresses, ports, ids) kept: just the stable part of a line. */
export function stripErrorLogPrefix(line: string): string {
  const parsed = parseErrorLogLine(line);
  if (!parsed) return line;
  return `[${parsed.level}] ${parsed.message}`;
}
