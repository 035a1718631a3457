import { readFile } from 'node:fs/promises';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';

/** Where procfs is mounted. Everything under /proc/net is the caller's network namespace. */
export const PROC_ROOT = '/proc';

/**
 * Throws `BG_UNSUPPORTED_PLATFORM` off Linux: /proc and `ss` are Linux facilities, and a half-working
 * answer on macOS (no /proc, a different netstat) would mislead a diagnosis.
 */
export function assertLinux(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'linux') {
    throw new BadgatewayError(
      ERROR_CODES.UNSUPPORTED_PLATFORM,
      `process and socket facts need Linux (/proc, ss); this is ${platform}`,
    );
  }
}

/**
 * Reads a system-wide procfs file (`/proc/net/tcp`, `/proc/sys/...`). A missing file means procfs or
 * that facility is absent (`BG_UNSUPPORTED_PLATFORM`); anything else is `BG_UNREADABLE`/`BG_PERMISSION`.
 */
export async function readProcFile(path: string): Promise<string> {
  assertLinux();
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw new BadgatewayError(ERROR_CODES.UNSUPPORTED_PLATFORM, `${path} does not exist (is /proc mounted?)`, {
        cause: err,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BadgatewayError(ERROR_CODES.PERMISSION, `cannot read ${path}: permission denied`, { cause: err });
    }
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path}: ${String(err)}`, { cause: err });
  }
}
