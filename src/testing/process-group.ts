import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { sleep } from '../util/index.js';

/** A server a test started in its own process group (nginx, Prometheus …). */
export interface GroupChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** What it wrote to stderr so far. */
  readonly stderr: string;
  readonly exited: boolean;
  /** SIGKILLs the whole group and waits (2 s at most) for the exit; idempotent. */
  kill(): Promise<void>;
}

/**
 * Spawns `command` in its own process group, stderr collected. A test that dies half-way must not
 * leave it running: an exit handler SIGKILLs the group until `kill()` has run.
 */
export function spawnGroupChild(command: string, args: readonly string[], { cwd }: { cwd?: string } = {}): GroupChild {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...(cwd ? { cwd } : {}) });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const pid = child.pid ?? 0;
  const killGroup = (): void => {
    try {
      if (pid) process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', killGroup);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let killing: Promise<void> | undefined;
  return {
    child,
    pid,
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited();
    },
    kill: () =>
      (killing ??= (async () => {
        const exit = exited() ? Promise.resolve() : once(child, 'exit').then(() => {});
        killGroup();
        await Promise.race([exit, sleep(2000)]);
        process.off('exit', killGroup);
      })()),
  };
}
