import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { debug, sleep, which } from '../util/index.js';

/*
 * Process management shared by the real proxies badgateway starts (nginx, HAProxy, Caddy): a
 * parent-death signal so a SIGKILLed owner leaves nothing running, a bounded stop in escalating
 * signals (util's stopChild), the whole process group killed at the end, and a readiness probe over HTTP.
 */

/**
 * A proxy program's path, or `undefined`: `$<variable>` when set (a path, or empty for "pretend it
 * is absent", so tests can see what a machine without it does), else PATH and the sbin dirs.
 */
export function findProgram(variable: string, name: string): string | undefined {
  const override = process.env[variable];
  if (override !== undefined) return override === '' ? undefined : which(override);
  return which(name);
}

let setprivPath: string | null | undefined;

/**
 * `setpriv --pdeathsig SIGTERM -- CMD…` when util-linux's setpriv has that option (2.33+), else CMD:
 * the kernel then sends the proxy SIGTERM (fast shutdown, workers included) when the thread that
 * started it dies, even by SIGKILL, where no exit handler of ours runs. setpriv execs the proxy, so
 * the pid stays the proxy's. The parent is the starting *thread*: start proxies from the main thread.
 */
export function withParentDeathSignal(command: string, args: readonly string[]): [string, string[]] {
  if (setprivPath === undefined) {
    const setpriv = which('setpriv');
    const help = setpriv ? spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 5000 }) : undefined;
    setprivPath = setpriv && help?.status === 0 && help.stdout.includes('--pdeathsig') ? setpriv : null;
    if (!setprivPath) debug('proxy: no setpriv --pdeathsig; a proxy outlives a SIGKILLed parent');
  }
  return setprivPath ? [setprivPath, ['--pdeathsig', 'SIGTERM', '--', command, ...args]] : [command, [...args]];
}

/** SIGKILL to a process group we created (`detached: true`); nothing when it is gone. */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Resolves once `GET path` on 127.0.0.1:`port` answers `status` (the proxy itself answers it, so a
 * worker runs); throws when `died()` says the process exited or after `timeoutMs`.
 */
export async function waitUntilAnswering({
  port,
  path,
  status = 204,
  timeoutMs,
  died,
  name,
}: {
  port: number;
  path: string;
  status?: number;
  timeoutMs: number;
  died: () => boolean;
  name: string;
}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (died()) throw new Error(`${name} exited during start`);
    const got = await new Promise<number | undefined>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (got === status) return;
    if (Date.now() >= deadline) throw new Error(`${name} did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(20);
  }
}
