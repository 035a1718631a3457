import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { which } from '../../src/util/index.js';

/** A real child process for doctor to inspect; `info` is the JSON it printed once ready. */
export interface Child<T> {
  pid: number;
  info: T;
  child: ChildProcess;
  close(): Promise<void>;
}

/**
 * Runs `node -e script` (under `prlimit --nofile=N:N` when `fdLimit` is set) and waits for the
 * first stdout line, which the script prints as JSON once it is ready.
 */
export async function spawnNodeChild<T>(
  script: string,
  { fdLimit, args = [] }: { fdLimit?: number; args?: string[] } = {},
): Promise<Child<T>> {
  const prlimit = fdLimit === undefined ? undefined : which('prlimit');
  if (fdLimit !== undefined && !prlimit) throw new Error('prlimit is required');
  const argv = prlimit
    ? [prlimit, `--nofile=${fdLimit}:${fdLimit}`, process.execPath, '-e', script, ...args]
    : [process.execPath, '-e', script, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready in 5 s: ${stderr}`)), 5000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as T);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ready: ${stderr}`));
    });
  });
  return {
    // prlimit execs node: same pid.
    pid: child.pid!,
    info,
    child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** Listens on a unix socket with a tiny backlog, then blocks its event loop so nothing is accepted. */
export const BLOCKED_UNIX = `
const net = require('node:net');
const [path, backlog, blockMs] = process.argv.slice(1);
const server = net.createServer(() => {});
server.listen({ path, backlog: Number(backlog) }, () => {
  console.log(JSON.stringify({ path }));
  // Blocked in a futex, not spinning: the loop stops all the same, the CPU stays free, and a test
  // can see when the block began (/proc/PID/wchan).
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(blockMs)), 50);
});
`;

/** An HTTP server that never times out idle keep-alive connections (keepAliveTimeout 0). */
export const NO_IDLE_TIMEOUT = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok'));
server.keepAliveTimeout = 0;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/** Listens on 127.0.0.1:0 with a tiny backlog, then blocks its event loop: SYNs beyond the queue are dropped. */
export const BLOCKED_TCP = `
const net = require('node:net');
const [backlog, blockMs] = process.argv.slice(1);
const server = net.createServer(() => {});
server.listen({ port: 0, host: '127.0.0.1', backlog: Number(backlog) }, () => {
  console.log(JSON.stringify({ port: server.address().port }));
  // Blocked in a futex, not spinning: the loop stops all the same, the CPU stays free, and a test
  // can see when the block began (/proc/PID/wchan).
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(blockMs)), 50);
});
`;
