import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FixtureConfig } from './fixtures/guarded-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/guarded-server.js', import.meta.url));

export interface Fixture {
  pid: number;
  port: number;
  url: string;
  stderr(): string;
  close(): Promise<void>;
}

/** Starts the fixture server in a child process, under `prlimit --nofile=N:N` when `fdLimit` is set. */
export async function spawnFixture(config: FixtureConfig, { fdLimit }: { fdLimit?: number } = {}): Promise<Fixture> {
  const args = [FIXTURE, JSON.stringify(config)];
  // prlimit sets the limit and execs node: the child's pid is node's.
  const child = fdLimit
    ? spawn('prlimit', [`--nofile=${fdLimit}:${fdLimit}`, process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not start: ${stderr}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited with ${code}: ${stderr}`));
    });
  });
  return {
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface HttpResult {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Error code when no response came: ECONNRESET, ECONNREFUSED, TIMEOUT, … */
  error?: string;
}

/** One GET on a fresh connection (no agent); errors and timeouts are data. */
export function get(url: string, { timeoutMs = 3000 } = {}): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

export interface RawClient {
  socket: Socket;
  /** Everything received. */
  received(): string;
  /** Resolves when the socket closes, with the error code if it failed. */
  closed: Promise<string | undefined>;
}

/** A raw TCP client: connects to 127.0.0.1:port and writes `data` (if any). */
export function rawClient(port: number, data?: string): RawClient {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  let error: string | undefined;
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  if (data !== undefined) socket.write(data);
  const closed = new Promise<string | undefined>((resolve) => socket.once('close', () => resolve(error)));
  return { socket, received: () => received, closed };
}

export const KEEPALIVE_GET = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n';
