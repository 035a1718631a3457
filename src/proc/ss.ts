import { execFile } from 'node:child_process';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { debug, which } from '../util/index.js';

/** Where socket facts come from: `ss` (netlink sock_diag), `/proc/net/*`, or ss when installed. */
export type SocketSource = 'auto' | 'ss' | 'proc';

/** Options shared by the socket readers. */
export interface SocketReadOptions {
  /**
   * `'ss'` (authoritative: backlogs come only from netlink sock_diag, which ss speaks), `'proc'`
   * (/proc/net only: backlog and idle times are `null`), or `'auto'` (ss when installed, else /proc).
   * Default `'auto'`.
   */
  source?: SocketSource;
  /** The `ss` executable. Default: looked up in PATH and the sbin dirs. */
  ssPath?: string;
  /** Kill `ss` after this long. Default 5000 ms. */
  timeoutMs?: number;
}

/** Defaults of {@link SocketReadOptions}. */
export const SOCKET_READ_DEFAULTS = { source: 'auto', timeoutMs: 5000 } as const;

/** Options with defaults applied and the source decided (`ssPath` is set when `source` is `'ss'`). */
export interface ResolvedSocketReadOptions {
  source: 'ss' | 'proc';
  ssPath: string | undefined;
  timeoutMs: number;
}

/** Applies defaults and picks the source: `'auto'` means ss when found, /proc otherwise. */
export function resolveSocketReadOptions(options: SocketReadOptions = {}): ResolvedSocketReadOptions {
  const source = options.source ?? SOCKET_READ_DEFAULTS.source;
  const timeoutMs = options.timeoutMs ?? SOCKET_READ_DEFAULTS.timeoutMs;
  if (source === 'proc') return { source, ssPath: undefined, timeoutMs };
  const ssPath = which(options.ssPath ?? 'ss');
  if (ssPath) return { source: 'ss', ssPath, timeoutMs };
  if (source === 'ss') {
    throw new BadgatewayError(ERROR_CODES.MISSING_TOOL, `ss not found (${options.ssPath ?? 'ss'})`, {
      hint: 'install iproute2 (apt-get install iproute2), or read /proc only with source "proc"',
    });
  }
  debug('proc: ss not found, reading /proc/net (backlog and idle times unknown)');
  return { source: 'proc', ssPath: undefined, timeoutMs };
}

/** Runs `ss` with `args` and returns its stdout; one argument per filter word is not needed. */
export function runSs(ssPath: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // LC_ALL=C: ss prints nothing localised today, but numbers must stay plain whatever the locale.
    execFile(
      ssPath,
      args,
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if (errnoCode(err) === 'ENOENT') {
          return reject(new BadgatewayError(ERROR_CODES.MISSING_TOOL, `ss not found (${ssPath})`, { cause: err }));
        }
        const firstLine = stderr.split('\n').find((l) => l.trim() !== '') ?? String(err);
        reject(
          new BadgatewayError(ERROR_CODES.CHILD_FAILED, `ss ${args.join(' ')} failed: ${firstLine.trim()}`, {
            cause: err,
          }),
        );
      },
    );
  });
}
