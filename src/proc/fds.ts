import { readdir, readFile, stat } from 'node:fs/promises';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { readLinks } from './owners.js';
import { PROC_ROOT, assertLinux } from './platform.js';

/** What an fd points at, from its `/proc/<pid>/fd/<n>` link target. */
export type FdKind = 'socket' | 'pipe' | 'file' | 'anon_inode' | 'device' | 'other';

/** RLIMIT_NOFILE of a process (counts of fds). */
export interface FdLimits {
  /** Soft RLIMIT_NOFILE: the limit that makes accept()/open() fail with EMFILE. `null` = unlimited. */
  soft: number | null;
  /** Hard RLIMIT_NOFILE. `null` = unlimited. */
  hard: number | null;
}

/** Open fds of a process with its limits, as {@link readFdStats} returns them. */
export interface FdStats extends FdLimits {
  pid: number;
  /** Number of open fds. */
  open: number;
  /** open / soft limit (0 when unlimited). */
  ratio: number;
  /** Open fds per kind; every kind present, 0 when none. */
  byKind: Record<FdKind, number>;
}

const PROC = PROC_ROOT;

/** Parses the `Max open files` line of `/proc/<pid>/limits`. */
export function parseNofileLimits(limitsText: string): FdLimits {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  if (!line) throw new BadgatewayError(ERROR_CODES.UNREADABLE, 'no "Max open files" line in limits');
  const [soft, hard] = line
    .slice('Max open files'.length)
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((v) => (v === 'unlimited' ? null : Number(v)));
  return { soft: soft ?? null, hard: hard ?? null };
}

/** Classifies a `/proc/<pid>/fd/<n>` link target (`socket:[123]`, `pipe:[4]`, `/dev/null`, …). */
export function classifyFdTarget(target: string): FdKind {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target.startsWith('anon_inode:')) return 'anon_inode';
  if (target.startsWith('/dev/')) return 'device';
  if (target.startsWith('/')) return 'file';
  return 'other';
}

/** Maps a failed /proc read to a clear error about the pid. */
export function procError(pid: number, err: unknown, what: string): BadgatewayError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ESRCH') {
    return new BadgatewayError(ERROR_CODES.NO_SUCH_PID, `no process with pid ${pid}`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new BadgatewayError(ERROR_CODES.PERMISSION, `cannot read ${what} of pid ${pid}: permission denied`, {
      cause: err,
      hint: 'run as the same user as the process, or as root',
    });
  }
  return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${what} of pid ${pid}: ${String(err)}`, {
    cause: err,
  });
}

function assertPid(pid: number): void {
  assertLinux();
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `pid: ${JSON.stringify(pid)} is not a positive integer`);
  }
}

/** Soft/hard RLIMIT_NOFILE of a process. */
export async function readFdLimits(pid: number): Promise<FdLimits> {
  assertPid(pid);
  try {
    return parseNofileLimits(await readFile(`${PROC}/${pid}/limits`, 'utf8'));
  } catch (err) {
    throw err instanceof BadgatewayError ? err : procError(pid, err, 'limits');
  }
}

/**
 * Number of open fds of a process, no readlinks (the cheap path for samplers): one `stat` on
 * Linux 6.2+, where a `/proc/PID/fd` dir's size is its fd count, else one readdir (which, for
 * this very process, includes the fd it reads with).
 */
export async function countFds(pid: number): Promise<number> {
  assertPid(pid);
  const dir = `${PROC}/${pid}/fd`;
  try {
    const { size } = await stat(dir);
    return size > 0 ? size : (await readdir(dir)).length;
  } catch (err) {
    throw procError(pid, err, 'fds');
  }
}

/**
 * Open fds of a process with limits and kinds: one readdir of `/proc/<pid>/fd`, then a readlink per
 * fd in synchronous batches of 1,000 with a yield to the event loop between batches (a process with
 * 20,000 fds takes ~0.2 s here; see `npm run bench -- proc`). Fds closing meanwhile are skipped, so
 * `open` may be below the readdir count.
 */
export async function readFdStats(pid: number): Promise<FdStats> {
  assertPid(pid);
  const dir = `${PROC}/${pid}/fd`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw procError(pid, err, 'fds');
  }
  const limits = await readFdLimits(pid);
  const byKind: Record<FdKind, number> = { socket: 0, pipe: 0, file: 0, anon_inode: 0, device: 0, other: 0 };
  let open = 0;
  await readLinks(dir, names, (_name, target) => {
    byKind[classifyFdTarget(target)] += 1;
    open += 1;
  });
  return { pid, open, ...limits, ratio: limits.soft ? open / limits.soft : 0, byKind };
}
