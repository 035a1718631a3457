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

/** Levels at which an unmatched upstream line is an error worth counting. */
const UNKNOWN_LEVELS = new Set<string>(['error', 'crit', 'alert', 'emerg']);

// Only the head is matched by regex; the rest of the line is taken as is (a stray \r or U+2028
// inside a request line does not make it a non-nginx line).
const LINE_HEAD = /^(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (\d+)#\d+: (?:\*(\d+) )?/;
const CONTEXT_FIELDS = ['client', 'server', 'request', 'upstream', 'host'] as const;

/** Splits an nginx-format error-log line; undefined for anything else. Never throws. */
export function parseErrorLogLine(line: string): ErrorLogLine | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const m = LINE_HEAD.exec(text);
  if (!m) return undefined;
  const rest = text.slice(m[0].length);
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

/** contextField(line.slice(from), 'upstream') without copying the context. */
function upstreamField(line: string, from: number): string | null {
  const key = ', upstream: ';
  const at = line.indexOf(key, from);
  if (at === -1) return null;
  const start = at + key.length;
  if (line.charCodeAt(start) === 34 /* " */) {
    const end = line.indexOf('"', start + 1);
    return line.slice(start + 1, end === -1 ? undefined : end);
  }
  const end = line.indexOf(',', start);
  return line.slice(start, end === -1 ? undefined : end);
}

/** The first pattern whose regex matches `message`, or undefined. */
export function matchProxyLogPattern(message: string): ProxyLogPattern | undefined {
  return PROXY_LOG_PATTERNS.find((p) => p.regex.test(message));
}

/**
 * Substrings of which every line {@link classifyProxyLogLine} returns something for contains at
 * least one: a test that costs a few `includes()` before any regex, for scanning big logs. Keep
 * in step with PROXY_LOG_PATTERNS (a test checks every pattern's example passes it).
 */
export const PROXY_LOG_KEYWORDS: readonly string[] = ['upstream', '(24: ', 'worker_connections'];

/** Cheap prefilter: false means {@link classifyProxyLogLine} would return undefined for this line. */
export function mayBeProxyLogLine(line: string): boolean {
  for (const keyword of PROXY_LOG_KEYWORDS) if (line.includes(keyword)) return true;
  return false;
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
  // Only failures: nginx also logs routine upstream notes ([warn] "an upstream response is
  // buffered to a temporary file", [info] …) that are no error of the upstream.
  if (UNKNOWN_LEVELS.has(parsed.level) && (parsed.upstream !== null || parsed.message.includes('upstream'))) {
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

/** The part of a classification a log scanner needs, without the rest of the line's fields. */
export interface FastClassification {
  patternId: string;
  causes: readonly CauseId[];
  status: 500 | 502 | 503 | 504 | null;
  level: LogLevel;
  /** `YYYY/MM/DD HH:MM:SS` as written. */
  time: string;
  /** The `upstream: "…"` context field, or null. */
  upstream: string | null;
}

/** A classifier for scanning big logs; same answers as {@link classifyProxyLogLine}, much cheaper per line. */
export interface ProxyLogClassifier {
  /**
   * Classifies one line. With `into`, fills and returns that object instead of allocating one
   * (a scanner of millions of lines reuses one object and copies what it keeps).
   */
  classify(line: string, into?: FastClassification): FastClassification | undefined;
}

/**
 * Creates a {@link ProxyLogClassifier}. It returns exactly what {@link classifyProxyLogLine}
 * returns for the fields it has (a test checks it line by line), but: the line head is checked by
 * one sticky regex without captures; the pattern match is memoised per distinct message (a log
 * repeats a handful of messages millions of times), in a cache of at most `cacheSize` messages;
 * and a message not cached yet must first pass a keyword prefilter, which skips lines no pattern
 * can match and keeps them out of the cache.
 */
export function createProxyLogClassifier({ cacheSize = 1024 }: { cacheSize?: number } = {}): ProxyLogClassifier {
  // Messages seen, by length. A line's message is found by `===` against the few cached ones of
  // its length: comparing bytes costs a quarter of hashing a fresh slice for a Map key (measured).
  const byLength = new Map<number, { message: string; pattern: ProxyLogPattern | null }[]>();
  let cached = 0;
  /** The cached pattern of `message` (null: none matches), or undefined when not cached. */
  const cachedPattern = (message: string): ProxyLogPattern | null | undefined => {
    const same = byLength.get(message.length);
    if (same !== undefined) for (const entry of same) if (entry.message === message) return entry.pattern;
    return undefined;
  };
  const matchAndCache = (message: string): ProxyLogPattern | null => {
    const pattern = matchProxyLogPattern(message) ?? null;
    if (cacheSize <= 0) return pattern;
    if (cached >= cacheSize) {
      byLength.clear(); // crude but bounded; real logs never get here
      cached = 0;
    }
    // A copy: the message is a slice of a line that may be a slice of a 1 MiB read chunk, which
    // a cached entry would keep alive.
    const entry = { message: JSON.parse(JSON.stringify(message)) as string, pattern };
    const same = byLength.get(message.length);
    if (same !== undefined) same.push(entry);
    else byLength.set(message.length, [entry]);
    cached += 1;
    return pattern;
  };
  return {
    classify(line, into) {
      const text = line.charCodeAt(line.length - 1) === 13 /* \r */ ? line.slice(0, -1) : line;
      const start = headLength(text);
      if (start === -1) return undefined;
      const levelEnd = text.indexOf(']', 21);
      const at = text.indexOf(', client: ', start);
      const message = at === -1 ? text.slice(start) : text.slice(start, at);
      // A message seen before skips the keyword scan; a new one must pass it before the patterns
      // run and it is cached (so the cache holds upstream messages, not varied noise).
      let pattern = cachedPattern(message);
      if (pattern === undefined) {
        if (!mayBeProxyLogLine(text)) return undefined;
        pattern = matchAndCache(message);
      }
      const upstream = at === -1 ? null : upstreamField(text, at);
      let patternId: string;
      let causes: readonly CauseId[] = NO_CAUSES;
      let status: FastClassification['status'] = null;
      const level = text.slice(21, levelEnd) as LogLevel;
      if (pattern) {
        patternId = pattern.id;
        causes = pattern.causes;
        status = pattern.status;
      } else if (UNKNOWN_LEVELS.has(level) && (upstream !== null || message.includes('upstream'))) {
        patternId = UNKNOWN_UPSTREAM_PATTERN;
      } else {
        return undefined;
      }
      const out = into ?? ({} as FastClassification);
      out.patternId = patternId;
      out.causes = causes;
      out.status = status;
      out.level = level;
      out.time = text.slice(0, 19);
      out.upstream = upstream;
      return out;
    },
  };
}

const NO_CAUSES: readonly CauseId[] = [];

/** LINE_HEAD without captures, sticky: after a successful test() its lastIndex is the head's length. */
const LINE_HEAD_STICKY = /\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} \[\w+\] \d+#\d+: (?:\*\d+ )?/y;

/** Length of what LINE_HEAD matches, or -1; allocates nothing. */
function headLength(s: string): number {
  LINE_HEAD_STICKY.lastIndex = 0;
  return LINE_HEAD_STICKY.test(s) ? LINE_HEAD_STICKY.lastIndex : -1;
}
