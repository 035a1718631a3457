import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { countFds, readFdLimits, type FdLimits } from '../proc/index.js';
import { which } from '../util/index.js';

const execFileAsync = promisify(execFile);

/** Fds the app needs above what it has open at start: listener, reserve, libuv's EMFILE reserve, a few clients. */
export const MIN_FD_HEADROOM = 8;

/**
 * Sets RLIMIT_NOFILE (soft = hard = `limit`) of process `pid` (default: this one) with util-linux
 * `prlimit --pid`. Applied to the running process rather than by re-spawning under
 * `prlimit --nofile=N:N CMD`: the pid that serves requests stays the pid callers inspect, and no
 * wrapper process can be killed while its child lives on. Throws `BG_NO_PRLIMIT` when prlimit is
 * missing, `BG_BAD_OPTION` when `limit` leaves too little room, `BG_PERMISSION` when not allowed.
 */
export async function applyFdLimit(limit: number, pid: number = process.pid): Promise<FdLimits> {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `--fd-limit: ${JSON.stringify(limit)} is not valid (expected an integer of at least 1)`,
    );
  }
  const prlimit = which('prlimit');
  if (prlimit === undefined) {
    throw new BadgatewayError(
      ERROR_CODES.NO_PRLIMIT,
      `--fd-limit ${limit}: needs prlimit (util-linux), which is not installed`,
    );
  }
  const open = await countFds(pid);
  if (limit < open + MIN_FD_HEADROOM) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `--fd-limit ${limit}: too low, the app has ${open} fds open at start and needs at least ${open + MIN_FD_HEADROOM}`,
    );
  }
  try {
    await execFileAsync(prlimit, ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().split('\n')[0] ?? String(err);
    throw new BadgatewayError(ERROR_CODES.PERMISSION, `--fd-limit ${limit}: prlimit failed: ${stderr}`, { cause: err });
  }
  const limits = await readFdLimits(pid);
  if (limits.soft !== limit) {
    throw new BadgatewayError(
      ERROR_CODES.PERMISSION,
      `--fd-limit ${limit}: the limit is still ${String(limits.soft)} after prlimit`,
    );
  }
  return limits;
}
