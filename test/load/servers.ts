import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

/** An in-test node:http server on 127.0.0.1:0 that counts requests and connections. */
export interface TestServer {
  server: Server;
  url: string;
  port: number;
  requests: number;
  connections: number;
  close(): Promise<void>;
}

export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<TestServer> {
  const state = { requests: 0, connections: 0 };
  const server = createServer((req, res) => handler(req, res, state.requests++));
  server.on('connection', () => (state.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}/`,
    port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } as TestServer;
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A server in a child process (its event loop can block without blocking the test). */
export interface ChildServer {
  child: ChildProcess;
  /** What the child printed after `listening `: a port number or a socket path. */
  address: string;
  close(): Promise<void>;
}

/**
 * Runs `source` (CommonJS) in a child node; it must print `listening <address>` when ready.
 * Killed by pid on close.
 */
export async function startChildServer(source: string, timeoutMs = 10_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child server did not start')), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening (.+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited with ${code}`));
    });
  });
  return {
    child,
    address,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
