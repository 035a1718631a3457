import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp dir owned by whoever created it: `close()` removes it with everything inside. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  /** Path of a file inside the dir. */
  file(name: string): string;
  close(): Promise<void>;
  /** Synchronous removal for `process.on('exit')` paths. */
  closeSync(): void;
}

/**
 * Creates `/tmp/badgateway-<prefix>-XXXXXX`. Kept short on purpose: unix socket paths inside it
 * must stay under the kernel's 108-byte `sun_path` limit.
 */
export async function createTempDir(prefix = 'tmp'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `bg-${prefix}-`));
  let closing: Promise<void> | undefined;
  let removed = false;
  const dir: TempDir = {
    path,
    file: (name) => join(path, name),
    close() {
      closing ??= rm(path, { recursive: true, force: true }).then(() => {
        removed = true;
      });
      return closing;
    },
    closeSync() {
      // Also when an async close() is under way: the process may be about to exit before it ends.
      if (removed) return;
      rmSync(path, { recursive: true, force: true });
      removed = true;
    },
    async [Symbol.asyncDispose]() {
      await dir.close();
    },
  };
  return dir;
}
