/**
 * Targets: one path from what a user writes (flags, library options, a targets file) to the
 * {@link Target}s the Attacker sends. URLs, methods, headers and body files are checked here and
 * nowhere else.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BadgatewayError, ERROR_CODES, badOption, errnoCode } from '../errors/index.js';

/** One request to send: the Targeter hands these out round-robin. */
export interface Target {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** A target as a user gives it; {@link createTarget} fills in and checks the rest. */
export interface TargetSpec {
  /** Default GET; any case (sent uppercase). */
  method?: string | undefined;
  /** An absolute http(s) URL; optional over a unix socket (see {@link UNIX_SOCKET_URL}). */
  url?: string | undefined;
  /** `{ name: value }`, or `Name: value` lines as curl's `-H` takes them. */
  headers?: Readonly<Record<string, string>> | readonly string[] | undefined;
  /** The body, or `{ file }` to read it from a file now. */
  body?: string | Uint8Array | { file: string } | undefined;
}

/** The method of a target that names none. */
export const DEFAULT_METHOD = 'GET';

/**
 * The URL of a target sent over a unix socket without one: the socket decides where it goes,
 * the URL only gives the Host header and the path.
 */
export const UNIX_SOCKET_URL = 'http://localhost/';

/** How errors name a target's parts: as options in code, or as the flags of `badgateway load`. */
export type TargetNaming = 'options' | 'flags';
const NAMES: Record<TargetNaming, Record<'method' | 'url' | 'headers' | 'body', string>> = {
  options: { method: 'method', url: 'url', headers: 'headers', body: 'body' },
  flags: { method: '--method', url: 'url', headers: '--header', body: '--body' },
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value may not split the request (CR, LF) or cut it short (NUL). */
const BAD_HEADER_VALUE = /[\r\n\0]/;
const METHOD_LINE = /^([A-Z]+)\s+(\S+)\s*$/;
const HEADER_LINE = /^([^:\s]+)\s*:\s*(.*)$/;

/**
 * A checked {@link Target} from what a user wrote: the method uppercased, the URL absolute (or
 * {@link UNIX_SOCKET_URL} with `unixSocket`), headers parsed, a body file read. Throws
 * `BG_BAD_OPTION` naming the part (as `naming` says), `BG_UNREADABLE` for a body file.
 */
export function createTarget(
  spec: TargetSpec,
  { unixSocket = false, naming = 'options' }: { unixSocket?: boolean; naming?: TargetNaming } = {},
): Target {
  const names = NAMES[naming];
  const method = spec.method ?? DEFAULT_METHOD;
  if (!TOKEN.test(method)) throw badOption(names.method, method, 'an HTTP method like GET or POST');
  let url: string;
  if (spec.url !== undefined) url = checkUrl(spec.url, names.url);
  else if (unixSocket) url = UNIX_SOCKET_URL;
  else
    throw badOption(
      names.url,
      '',
      `a target URL like http://127.0.0.1:8080/ (or ${naming === 'flags' ? '--targets FILE' : 'targets'})`,
    );
  const target: Target = { method: method.toUpperCase(), url, headers: parseHeaders(spec.headers, names.headers) };
  const body = spec.body;
  if (body !== undefined)
    target.body = typeof body === 'string' || body instanceof Uint8Array ? body : readBodyFile(body.file, names.body);
  return target;
}

function parseHeaders(headers: TargetSpec['headers'], option: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  const pairs: [string, string][] = Array.isArray(headers)
    ? (headers as readonly string[]).map((line) => {
        const match = HEADER_LINE.exec(line);
        if (!match) throw badOption(option, line, "'Name: value'");
        return [match[1]!, match[2]!];
      })
    : Object.entries(headers as Readonly<Record<string, string>>);
  for (const [name, value] of pairs) {
    if (!TOKEN.test(name) || BAD_HEADER_VALUE.test(String(value)))
      throw badOption(
        option,
        `${name}: ${String(value)}`,
        'a header name without spaces or separators, a value without CR, LF or NUL',
      );
    out[name] = String(value);
  }
  return out;
}

/** Reads a body file now; `BG_UNREADABLE` naming `where` (an option, or a targets file's line). */
export function readBodyFile(path: string, where: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BadgatewayError(
      ERROR_CODES.UNREADABLE,
      `${where}: cannot read body file ${path} (${errnoCode(err) ?? 'error'})`,
      { cause: err },
    );
  }
}

/** Accepts `http://…` (and `https://…`) URLs; returns the normalised href. */
export function checkUrl(value: string, option: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badOption(option, value, 'an absolute http:// URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw badOption(option, value, 'an absolute http:// URL');
  }
  return url.href;
}

/**
 * Parses a targets file. Two formats, sniffed from the first meaningful line:
 *
 * - vegeta's http format: `METHOD URL` lines, each followed by `Header: value` lines and an
 *   optional `@path` body line (relative to `baseDir`); blank lines and `#` comments between targets.
 * - JSON lines: `{"method":"POST","url":"http://…","headers":{"K":"v"},"body":"text"}` per line
 *   (`header` with array values as vegeta writes it, and `bodyBase64`, are accepted too).
 *
 * Throws `BG_BAD_OPTION` naming the file and line for anything else.
 */
export function parseTargets(text: string, { source = 'targets', baseDir = '.' } = {}): Target[] {
  const lines = text.split(/\r?\n/);
  const first = lines.find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first === undefined) throw bad(source, 0, 'no targets');
  return first.trim().startsWith('{') ? parseJsonTargets(lines, source) : parseHttpTargets(lines, source, baseDir);
}

function bad(source: string, line: number, why: string): BadgatewayError {
  return new BadgatewayError(ERROR_CODES.BAD_OPTION, `${source}${line > 0 ? `:${line}` : ''}: ${why}`);
}

function parseHttpTargets(lines: string[], source: string, baseDir: string): Target[] {
  const targets: Target[] = [];
  let current: Target | undefined;
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const n = index + 1;
    if (line === '' || line.startsWith('#')) {
      if (line === '') current = undefined;
      return;
    }
    const method = METHOD_LINE.exec(line);
    if (method && /^https?:\/\//.test(method[2]!)) {
      current = { method: method[1]!, url: checkUrlAt(method[2]!, source, n), headers: {} };
      targets.push(current);
      return;
    }
    if (!current) throw bad(source, n, `expected "METHOD URL", got ${JSON.stringify(line)}`);
    if (line.startsWith('@')) {
      current.body = readBodyFile(resolve(baseDir, line.slice(1)), `${source}:${n}`);
      return;
    }
    const header = HEADER_LINE.exec(line);
    if (!header) throw bad(source, n, `expected "Header: value" or "@body-file", got ${JSON.stringify(line)}`);
    current.headers[header[1]!] = header[2]!;
  });
  return targets;
}

function parseJsonTargets(lines: string[], source: string): Target[] {
  const targets: Target[] = [];
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const n = index + 1;
    if (line === '' || line.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw bad(source, n, 'not valid JSON');
    }
    if (typeof value !== 'object' || value === null) throw bad(source, n, 'expected a JSON object');
    const o = value as Record<string, unknown>;
    if (typeof o['url'] !== 'string') throw bad(source, n, 'missing "url"');
    const headers: Record<string, string> = {};
    const rawHeaders = (o['headers'] ?? o['header'] ?? {}) as Record<string, unknown>;
    if (typeof rawHeaders !== 'object' || rawHeaders === null) throw bad(source, n, '"headers" must be an object');
    for (const [k, v] of Object.entries(rawHeaders))
      headers[k] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
    const target: Target = {
      method: typeof o['method'] === 'string' ? o['method'].toUpperCase() : 'GET',
      url: checkUrlAt(o['url'], source, n),
      headers,
    };
    if (typeof o['body'] === 'string') target.body = o['body'];
    else if (typeof o['bodyBase64'] === 'string') target.body = Buffer.from(o['bodyBase64'], 'base64');
    targets.push(target);
  });
  return targets;
}

function checkUrlAt(url: string, source: string, line: number): string {
  try {
    return checkUrl(url, 'url');
  } catch {
    throw bad(source, line, `${JSON.stringify(url)} is not an absolute http:// URL`);
  }
}

/** Reads and parses a targets file (`-` = stdin); `BG_UNREADABLE` when it cannot be read. */
export function readTargetsFile(path: string): Target[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `--targets: cannot read ${path} (${errnoCode(err) ?? 'error'})`, {
      cause: err,
    });
  }
  return parseTargets(text, { source: path, baseDir: path === '-' ? '.' : dirname(resolve(path)) });
}

/** The Targeter: hands out targets round-robin. */
export interface Targeter {
  next(): number;
}

/** Round-robin over `count` targets; returns the target's index. */
export function createTargeter(count: number): Targeter {
  let i = -1;
  return count === 1 ? { next: () => 0 } : { next: () => (i = (i + 1) % count) };
}
