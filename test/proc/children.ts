import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process for proc tests: talks JSON lines on stdout, takes commands on stdin. */
export interface TestChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Next stdout line matching `pattern` (lines are buffered, none is lost). */
  nextLine(pattern?: RegExp, timeoutMs?: number): Promise<string>;
  send(line: string): void;
  /** SIGKILL (works on a child blocked in Atomics.wait) and wait for exit. */
  close(): Promise<void>;
}

/** Starts `command args` (e.g. `node -e CODE`, or `prlimit --nofile=… node -e CODE`). */
export function startChild(command: string, args: readonly string[], options: SpawnOptions = {}): TestChild {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => {
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    pid: child.pid,
    child,
    async nextLine(pattern = /./, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = lines.findIndex((l) => pattern.test(l));
        if (i >= 0) return lines.splice(0, i + 1)[i] as string;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`child exited before printing ${pattern}`);
        if (Date.now() > deadline) throw new Error(`child printed no ${pattern} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `node -e CODE` as a test child. */
export function startNode(code: string, options: SpawnOptions = {}): TestChild {
  return startChild(process.execPath, ['-e', code], options);
}
