import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Absolute path of an executable, looked up in `PATH` plus the sbin dirs (nginx lives in
 * /usr/sbin, which a non-root PATH lacks). `undefined` when absent.
 */
export function which(
  command: string,
  extraDirs: readonly string[] = ['/usr/sbin', '/sbin', '/usr/local/sbin'],
): string | undefined {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
