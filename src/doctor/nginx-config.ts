import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';

/*
 * nginx's own configuration, as doctor needs it: for every upstream its servers, whether a
 * `keepalive` pool reuses connections (without one a keep-alive race cannot happen), the pool's
 * `keepalive_timeout`, the `proxy_*_timeout`s of the locations that use it; the workers' `user`,
 * `worker_connections` and `worker_rlimit_nofile`. Read from a file (`--nginx-conf`, includes
 * followed) or from `nginx -T`'s dump of a running nginx. The syntax is nginx's: words, quoted
 * strings, `;`, blocks, `#` comments. Written here rather than taken from a package: the npm
 * parsers edit files and follow no `include`, and this one must also read `nginx -T` dumps and take
 * hostile input (it is fuzzed).
 */

/** One directive: `name args…;` or `name args… { children }`. */
export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
  file: string;
  line: number;
}

/** One server of an upstream group (or the address of a direct `proxy_pass`). */
export interface NginxServer {
  /** As written: `127.0.0.1:8080`, `unix:/run/app.sock`, `backend.internal:80`. */
  address: string;
  unixPath?: string;
  host?: string;
  port?: number;
}

/** Proxy timeouts of a location (nginx defaults: 60 s each), ms. */
export interface ProxyTimeouts {
  connectMs: number;
  readMs: number;
  sendMs: number;
}

/** An upstream as the proxy uses it. */
export interface NginxUpstream {
  /** The group's name, or the address of a direct `proxy_pass http://ADDRESS`. */
  name: string;
  servers: NginxServer[];
  /** Idle connections kept per worker (`keepalive N`); 0 = none: every request opens a new connection. */
  keepalive: number;
  /** How long a pooled connection may stay idle (`keepalive_timeout` in the upstream block; default 60 s), ms. */
  keepaliveTimeoutMs: number;
  /**
   * The pool is used only with `proxy_http_version 1.1` and the `Connection` header cleared; false
   * when a location proxying here misses either (nginx then closes after each request anyway).
   */
  poolEffective: boolean;
  /** Timeouts of the locations that proxy here (the first one's; `locations` says how many). */
  timeouts: ProxyTimeouts;
  locations: number;
}

/** Everything doctor takes from an nginx configuration. Plain JSON. */
export interface NginxConfigFacts {
  /** Where it came from: a file path, or `nginx -T of pid N`. */
  source: string;
  /** Files read (the main file and its includes). */
  files: string[];
  /** `user` directive: the workers' user and group; null when absent (nginx: nobody when started as root). */
  user: { user: string; group: string | null } | null;
  /** `worker_connections` (default 512). */
  workerConnections: number;
  /** `worker_rlimit_nofile`; null when not set (the workers keep the limit they inherit). */
  workerRlimitNofile: number | null;
  /** `error_log` paths (files only). */
  errorLogs: string[];
  upstreams: NginxUpstream[];
  /** Things doctor could not follow (a variable in proxp_pass, an include it could not read). */
  notes: string[];
}

/** Limits that keep a hostile or huge config from costing more than a real one. */
const MAX_FILES = 256;
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_DEPTH = 64;

const NGINX_DEFAULT_TIMEOUT_MS = 60_000;

/** nginx time (`60s`, `1m30s`, `500ms`, `75`) → ms; undefined when malformed. */
export function parseNginxTime(text: string): number | undefined {
  const units: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
    M: 2_592_000_000,
    y: 31_536_000_000,
  };
  const re = /(\d+)(ms|s|m|h|d|w|M|y)?/y;
  let total = 0;
  let at = 0;
  const t = text.trim();
  if (t === '') return undefined;
  while (at < t.length) {
    if (t[at] === ' ') {
      at += 1;
      continue;
    }
    re.lastIndex = at;
    const m = re.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
    at = re.lastIndex;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Splits nginx config text into directives. Never throws on odd input: what cannot parse is reported in `errors`. */
export function parseNginxConfig(
  text: string,
  file = 'nginx.conf',
): { directives: NginxDirective[]; errors: string[] } {
  const errors: string[] = [];
  const root: NginxDirective[] = [];
  const stack: NginxDirective[][] = [root];
  let words: string[] = [];
  let wordLine = 1;
  let line = 1;
  let i = 0;
  const n = text.length;
  const finish = (block: boolean): void => {
    const [name, ...args] = words;
    if (name === undefined) {
      if (!block) errors.push(`${file}:${line}: unexpected ";"`);
      words = [];
      return;
    }
    const d: NginxDirective = { name, args, file, line: wordLine };
    stack[stack.length - 1]!.push(d);
    if (block) {
      d.block = [];
      if (stack.length >= MAX_DEPTH) errors.push(`${file}:${line}: blocks nested too deep`);
      else stack.push(d.block);
    }
    words = [];
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line += 1;
      i += 1;
    } else if (c === ' ' || c === '\t' || c === '\r') i += 1;
    else if (c === '#') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end;
    } else if (c === ';') {
      finish(false);
      i += 1;
    } else if (c === '{') {
      finish(true);
      i += 1;
    } else if (c === '}') {
      if (words.length > 0) errors.push(`${file}:${line}: "${words[0]}" has no ";"`);
      words = [];
      if (stack.length > 1) stack.pop();
      else errors.push(`${file}:${line}: unexpected "}"`);
      i += 1;
    } else {
      if (words.length === 0) wordLine = line;
      const [word, next, lines] = readWord(text, i);
      words.push(word);
      line += lines;
      i = next;
    }
  }
  if (words.length > 0) errors.push(`${file}:${line}: unexpected end of file, expecting ";" or "}"`);
  if (stack.length > 1) errors.push(`${file}: unexpected end of file, expecting "}"`);
  return { directives: root, errors };
}

/** One word starting at `i`: quoted ('…' / "…" with backslash escapes) or bare up to a separator. */
function readWord(text: string, i: number): [string, number, number] {
  const q = text[i];
  let lines = 0;
  if (q === '"' || q === "'") {
    let out = '';
    let j = i + 1;
    while (j < text.length && text[j] !== q) {
      if (text[j] === '\\' && j + 1 < text.length) {
        const e = text[j + 1]!;
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === q || e === '\\' ? e : `\\${e}`;
        j += 2;
        continue;
      }
      if (text[j] === '\n') lines += 1;
      out += text[j];
      j += 1;
    }
    return [out, j + 1, lines];
  }
  let j = i;
  while (j < text.length) {
    const c = text[j]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ';' || c === '{' || c === '}') {
      // `${var}` keeps its braces.
      if (c === '{' && text[j - 1] === '$') {
        const close = text.indexOf('}', j);
        j = close === -1 ? text.length : close + 1;
        continue;
      }
      break;
    }
    if (c === '\\' && j + 1 < text.length) j += 1;
    j += 1;
  }
  return [text.slice(i, j), j, 0];
}

/** Where a config's files come from: the disk, or the files of an `nginx -T` dump. */
export interface ConfigFileSource {
  read(path: string): string | undefined;
  /** Paths matching an include pattern (glob with `*`, `?`, `[…]` in the last part). */
  glob(pattern: string): string[];
}

/** Reads files from disk (a `--nginx-conf FILE` and its includes). */
export function diskSource(): ConfigFileSource {
  return {
    read(path) {
      const info = statSync(path);
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      if (info.size > MAX_FILE_BYTES) throw Object.assign(new Error('too big'), { code: 'EFBIG' });
      return readFileSync(path, 'utf8');
    },
    glob(pattern) {
      if (!/[*?[]/.test(pattern)) return [pattern];
      const dir = dirname(pattern);
      const re = globRegExp(basename(pattern));
      try {
        return readdirSync(dir)
          .filter((name) => re.test(name))
          .sort()
          .map((name) => join(dir, name));
      } catch {
        return [];
      }
    },
  };
}

/** The files of an `nginx -T` dump (`# configuration file PATH:` headers). */
export function dumpSource(dump: string): { source: ConfigFileSource; first: string | undefined } {
  const files = new Map<string, string>();
  let first: string | undefined;
  const re = /^# configuration file (.+):\n/gm;
  const heads = [...dump.matchAll(re)];
  heads.forEach((m, k) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = heads[k + 1]?.index ?? dump.length;
    const path = m[1]!;
    first ??= path;
    if (!files.has(path)) files.set(path, dump.slice(start, end));
  });
  return {
    first,
    source: {
      read: (path) => files.get(path),
      glob(pattern) {
        if (!/[*?[]/.test(pattern)) return files.has(pattern) ? [pattern] : [];
        const dir = dirname(pattern);
        const re2 = globRegExp(basename(pattern));
        return [...files.keys()].filter((p) => dirname(p) === dir && re2.test(basename(p))).sort();
      },
    },
  };
}

function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/\\/g, '\\\\')
          .replace(/^!/, '^')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Loads a config with its includes (relative ones against the main file's directory, as nginx does
 * for its conf prefix) and extracts what doctor uses. Throws `BG_UNREADABLE` / `BG_PERMISSION`
 * when the main file cannot be read; an include that cannot is a note.
 */
export function loadNginxConfig(
  mainFile: string,
  source: ConfigFileSource = diskSource(),
  label = mainFile,
): NginxConfigFacts {
  const files: string[] = [];
  const notes: string[] = [];
  const prefix = dirname(resolve(mainFile));
  const load = (path: string, depth: number, main: boolean): NginxDirective[] => {
    if (files.length >= MAX_FILES) {
      notes.push(`more than ${MAX_FILES} config files: ${path} and later ones not read`);
      return [];
    }
    let text: string | undefined;
    try {
      text = source.read(path);
    } catch (err) {
      if (main) throw unreadable(path, err);
      notes.push(`cannot read included ${path} (${errnoCode(err) ?? String(err)})`);
      return [];
    }
    if (text === undefined) {
      if (main) throw new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path}: not in the nginx -T dump`);
      notes.push(`included ${path} is not in the dump`);
      return [];
    }
    files.push(path);
    const parsed = parseNginxConfig(text, path);
    notes.push(...parsed.errors.slice(0, 5));
    return expandIncludes(parsed.directives, depth);
  };
  const expandIncludes = (directives: NginxDirective[], depth: number): NginxDirective[] => {
    const out: NginxDirective[] = [];
    for (const d of directives) {
      if (d.name === 'include' && d.args[0] !== undefined && depth < 16) {
        const pattern = isAbsolute(d.args[0]) ? d.args[0] : join(prefix, d.args[0]);
        for (const path of source.glob(pattern)) out.push(...load(path, depth + 1, false));
        continue;
      }
      out.push(d.block ? { ...d, block: expandIncludes(d.block, depth) } : d);
    }
    return out;
  };
  const directives = load(mainFile, 0, true);
  return { source: label, files, ...extractFacts(directives, notes), notes };
}

function unreadable(path: string, err: unknown): BadgatewayError {
  const code = errnoCode(err);
  if (code === 'EACCES' || code === 'EPERM')
    return new BadgatewayError(ERROR_CODES.PERMISSION, `cannot read ${path}: permission denied`, { cause: err });
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'is a directory'
        : code === 'EFBIG'
          ? 'larger than 16 MiB'
          : (code ?? String(err));
  return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path}: ${why}`, { cause: err });
}

/** A server address (`unix:/x.sock`, `host:port`, `[v6]:port`, `host`) split. */
export function parseServerAddress(address: string): NginxServer {
  if (address.startsWith('unix:')) return { address, unixPath: address.slice(5) };
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(address);
  if (!m) return { address };
  const port = m[3] === undefined ? 80 : Number(m[3]);
  return { address, host: m[1] ?? m[2] ?? '', ...(port >= 1 && port <= 65535 ? { port } : {}) };
}

/** `http://unix:/x.sock:/uri` → `unix:/x.sock`; `http://name/uri` → `name`; undefined with variables or another scheme. */
export function proxyPassTarget(url: string): string | undefined {
  const m = /^https?:\/\/(.*)$/.exec(url);
  if (!m || url.includes('$')) return undefined;
  const rest = m[1]!;
  if (rest.startsWith('unix:')) {
    const colon = rest.indexOf(':', 5);
    return colon === -1 ? rest : rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  return slash === -1 ? rest : rest.slice(0, slash);
}

const TIMEOUT_DIRECTIVES = {
  proxy_connect_timeout: 'connectMs',
  proxy_read_timeout: 'readMs',
  proxy_send_timeout: 'sendMs',
} as const;

/** Walks the directive tree: main-context settings, upstream groups, and every proxy_pass with its inherited timeouts. */
function extractFacts(
  directives: NginxDirective[],
  notes: string[],
): Omit<NginxConfigFacts, 'source' | 'files' | 'notes'> {
  let user: NginxConfigFacts['user'] = null;
  let workerConnections = 512;
  let workerRlimitNofile: number | null = null;
  const errorLogs: string[] = [];
  const groups = new Map<string, NginxUpstream>();
  const uses: { target: string; timeouts: ProxyTimeouts; http11: boolean; connectionCleared: boolean }[] = [];
  const visit = (
    list: NginxDirective[],
    context: string[],
    inherited: { timeouts: ProxyTimeouts; http11: boolean; connectionCleared: boolean },
  ): void => {
    // Directives of this level set what its children inherit, wherever they stand in the block.
    const here = {
      timeouts: { ...inherited.timeouts },
      http11: inherited.http11,
      connectionCleared: inherited.connectionCleared,
    };
    for (const d of list) {
      const key = TIMEOUT_DIRECTIVES[d.name as keyof typeof TIMEOUT_DIRECTIVES];
      if (key && d.args[0] !== undefined) {
        const ms = parseNginxTime(d.args[0]);
        if (ms !== undefined) here.timeouts[key] = ms;
      } else if (d.name === 'proxy_http_version') here.http11 = d.args[0] === '1.1';
      else if (d.name === 'proxy_set_header' && d.args[0]?.toLowerCase() === 'connection')
        here.connectionCleared = d.args[1] === '' || d.args[1]?.toLowerCase() === 'keep-alive';
    }
    for (const d of list) {
      const where = context[context.length - 1];
      if (d.name === 'user' && context.length === 0 && d.args[0]) user = { user: d.args[0], group: d.args[1] ?? null };
      else if (d.name === 'worker_connections' && where === 'events')
        workerConnections = toInt(d.args[0]) ?? workerConnections;
      else if (d.name === 'worker_rlimit_nofile' && context.length === 0) workerRlimitNofile = toInt(d.args[0]) ?? null;
      else if (d.name === 'error_log' && d.args[0] && !/^(stderr|syslog:|memory:)/.test(d.args[0]))
        errorLogs.push(d.args[0]);
      else if (d.name === 'upstream' && d.block && d.args[0])
        groups.set(d.args[0], upstreamGroup(d.args[0], d.block, notes));
      else if (d.name === 'proxy_pass' && d.args[0]) {
        const target = proxyPassTarget(d.args[0]);
        if (target === undefined)
          notes.push(`${d.file}:${d.line}: proxy_pass ${d.args[0]} (variables or another scheme): not followed`);
        else uses.push({ target, ...here, timeouts: { ...here.timeouts } });
      }
      if (d.block && d.name !== 'upstream') visit(d.block, [...context, d.name], here);
    }
  };
  visit(directives, [], {
    timeouts: {
      connectMs: NGINX_DEFAULT_TIMEOUT_MS,
      readMs: NGINX_DEFAULT_TIMEOUT_MS,
      sendMs: NGINX_DEFAULT_TIMEOUT_MS,
    },
    http11: false,
    connectionCleared: false,
  });
  const upstreams = new Map<string, NginxUpstream>();
  for (const use of uses) {
    const group = groups.get(use.target);
    const u =
      upstreams.get(use.target) ??
      (group
        ? { ...group, timeouts: use.timeouts, locations: 0, poolEffective: group.keepalive > 0 }
        : {
            name: use.target,
            servers: [parseServerAddress(use.target)],
            keepalive: 0,
            keepaliveTimeoutMs: NGINX_DEFAULT_TIMEOUT_MS,
            poolEffective: false,
            timeouts: use.timeouts,
            locations: 0,
          });
    u.locations += 1;
    if (!(use.http11 && use.connectionCleared)) u.poolEffective = false;
    upstreams.set(use.target, u);
  }
  // Groups no location uses still name servers an engineer may want inspected.
  for (const [name, g] of groups) if (!upstreams.has(name)) upstreams.set(name, { ...g, poolEffective: false });
  return { user, workerConnections, workerRlimitNofile, errorLogs, upstreams: [...upstreams.values()] };
}

function upstreamGroup(name: string, block: NginxDirective[], notes: string[]): NginxUpstream {
  const servers: NginxServer[] = [];
  let keepalive = 0;
  let keepaliveTimeoutMs = NGINX_DEFAULT_TIMEOUT_MS;
  for (const d of block) {
    if (d.name === 'server' && d.args[0]) servers.push(parseServerAddress(d.args[0]));
    else if (d.name === 'keepalive') keepalive = toInt(d.args[0]) ?? 0;
    else if (d.name === 'keepalive_timeout' && d.args[0]) {
      const ms = parseNginxTime(d.args[0]);
      if (ms === undefined) notes.push(`${d.file}:${d.line}: keepalive_timeout ${d.args[0]} not understood`);
      else keepaliveTimeoutMs = ms;
    }
  }
  return {
    name,
    servers,
    keepalive,
    keepaliveTimeoutMs,
    poolEffective: keepalive > 0,
    timeouts: {
      connectMs: NGINX_DEFAULT_TIMEOUT_MS,
      readMs: NGINX_DEFAULT_TIMEOUT_MS,
      sendMs: NGINX_DEFAULT_TIMEOUT_MS,
    },
    locations: 0,
  };
}

function toInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Whether the proxy may reuse a connection to this upstream (an error log's `upstream` field,
 * normalised: `127.0.0.1:8080`, `unix:/x.sock`, or a group name): true with an effective pool,
 * false without one, undefined when the config does not name it.
 */
export function upstreamReusesConnections(config: NginxConfigFacts, upstream: string): boolean | undefined {
  const u = findUpstream(config, upstream);
  return u === undefined ? undefined : u.keepalive > 0 && u.poolEffective;
}

/** The config's upstream that a log line's upstream (group name or server address) belongs to. */
export function findUpstream(config: NginxConfigFacts, upstream: string): NginxUpstream | undefined {
  return config.upstreams.find(
    (u) => u.name === upstream || u.servers.some((s) => s.address === upstream || sameServer(s, upstream)),
  );
}

function sameServer(s: NginxServer, address: string): boolean {
  const other = parseServerAddress(address);
  if (s.unixPath !== undefined) return other.unixPath === s.unixPath;
  const local = (h: string | undefined): string | undefined => (h === 'localhost' ? '127.0.0.1' : h);
  return s.port !== undefined && s.port === other.port && local(s.host) === local(other.host);
}
