import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debug } from './debug.js';

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
 * Creates `$TMPDIR/bg-<prefix>-XXXXXX` (`/tmp` by default). Kept short on purpose: unix socket paths
 * inside it must stay under the kernel's 108-byte `sun_path` limit.
 *
 * The dir never outlives its process: `close()` removes it, and a reaper removes it when the process
 * dies without doing so (SIGKILL, the OOM killer, a crash in native code), where no handler runs.
 */
export async function createTempDir(prefix = 'tmp'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `bg-${prefix}-`));
  const reaper = spawnReaper(path);
  let closing: Promise<void> | undefined;
  let removed = false;
  const dir: TempDir = {
    path,
    file: (name) => join(path, name),
    close() {
      closing ??= rm(path, { recursive: true, force: true }).then(() => {
        removed = true;
        stopReaper(reaper);
      });
      return closing;
    },
    closeSync() {
      // Also when an async close() is under way: the process may be about to exit before it ends.
      if (removed) return;
      rmSync(path, { recursive: true, force: true });
      removed = true;
      stopReaper(reaper);
    },
    async [Symbol.asyncDispose]() {
      await dir.close();
    },
  };
  return dir;
}

/**
 * The reaper's script: `read` returns at end of input, which comes only when every copy of the pipe's
 * write end is closed. Only this process holds it (Node opens it close-on-exec), so that is when this
 * process has died. The short wait lets children that die with us (the demo app and the Python apps
 * through their stdin, nginx through its parent-death signal) exit first; a file they write meanwhile
 * can make one `rm -rf` fail, hence the second.
 */
const REAPER_SCRIPT = 'read -r _; sleep 0.5; rm -rf -- "$1" 2>/dev/null || { sleep 1; rm -rf -- "$1"; }';

/**
 * Starts the reaper of `path`: a `/bin/sh` in its own session (so a terminal's Ctrl-C, aimed at us,
 * does not end it), not keeping this process alive. None (debug-logged) when it cannot be started,
 * e.g. out of fds: the dir is then removed by `close()` and exit handlers only, as before.
 */
function spawnReaper(path: string): ChildProcess | undefined {
  try {
    const child = spawn('/bin/sh', ['-c', REAPER_SCRIPT, 'badgateway-reaper', path], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    child.on('error', (err) => debug('temp dir reaper for %s: %o', path, err));
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    return child;
  } catch (err) {
    debug('temp dir reaper for %s not started: %o', path, err);
    return undefined;
  }
}

/** Ends a reaper whose dir is gone: SIGKILL to the pid we started (Node never signals a reaped pid). */
function stopReaper(reaper: ChildProcess | undefined): void {
  if (!reaper || reaper.exitCode !== null || reaper.signalCode !== null) return;
  reaper.kill('SIGKILL');
  reaper.stdin?.destroy();
}
