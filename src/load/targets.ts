import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { checkUrl } from './options.js';

/** One request to send: the Targeter hands these out round-robin. */
export interface Target {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const METHOD_LINE = /^([A-Z]+)\s+(\S+)\s*$/;
const HEADER_LINE = /^([^:\s]+)\s*:\s*(.*)$/;

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
      const path = resolve(baseDir, line.slice(1));
      try {
        current.body = readFileSync(path);
      } catch (err) {
        throw bad(source, n, `cannot read body file ${path} (${errnoCode(err) ?? 'error'})`);
      }
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
    for (const [k, v] of Object.entries(rawHeaders)) headers[k] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
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
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `--targets: cannot read ${path} (${errnoCode(err) ?? 'error'})`, { cause: err });
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
