/**
 * Upstreams that fail in one precise way each, for the proxy table tests and the recordings of
 * real nginx lines. Real sockets and a real child process; nothing mocked.
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { createTempDir, type TempDir } from '../../src/util/index.js';
import { findFreePort } from '../../src/proxy/index.js';

export interface TestUpstream {
  /** What to give the proxy as `upstream`. */
  upstream: string;
  /** Text to replace in error lines before comparing (temp paths → placeholders). */
  replacements: Record<string, string>;
  /** Anything the case needs to drive the upstream (child control). */
  control?: { block(): Promise<void>; url: string };
  close(): Promise<void>;
}

function listenTcp(server: NetServer | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

const closeServer = (server: NetServer | HttpServer): Promise<void> =>
  new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
  });

/** Nothing listens on the port (it was free a moment ago). */
export async function tcpClosedPort(): Promise<TestUpstream> {
  const port = await findFreePort();
  return { upstream: `http://127.0.0.1:${port}`, replacements: {}, close: async () => {} };
}

/** A unix socket path whose file does not exist. */
export async function unixMissing(): Promise<TestUpstream> {
  const dir = await createTempDir('up');
  const path = dir.file('app.sock');
  return { upstream: `unix:${path}`, replacements: { [path]: '/SOCKET' }, close: () => dir.close() };
}

/**
 * A socket file with no listener behind it: what a crashed server leaves. Made by renaming a live
 * socket's file away before its server closes (close() then cannot unlink it).
 */
export async function unixStale(): Promise<TestUpstream> {
  const dir = await createTempDir('up');
  const live = dir.file('live.sock');
  const path = dir.file('app.sock');
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(live, resolve));
  renameSync(live, path);
  await closeServer(server);
  return { upstream: `unix:${path}`, replacements: { [path]: '/SOCKET' }, close: () => dir.close() };
}

/** A healthy upstream on a unix socket inside a private (0700, root-owned) temp dir. */
export async function unixPrivate(): Promise<TestUpstream> {
  const dir = await createTempDir('up');
  const path = dir.file('app.sock');
  const server = createHttpServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    upstream: `unix:${path}`,
    replacements: { [path]: '/SOCKET' },
    close: async () => {
      await closeServer(server);
      await dir.close();
    },
  };
}

/** A TCP upstream on net.Server: `onSocket` gets each connection; close() destroys them all. */
async function tcpUpstream(
  onSocket: (socket: Socket) => void,
  options: { pauseOnConnect?: boolean } = {},
): Promise<TestUpstream> {
  const sockets = new Set<Socket>();
  const server = createNetServer(options, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  const port = await listenTcp(server);
  return {
    upstream: `http://127.0.0.1:${port}`,
    replacements: {},
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

/** A raw TCP upstream: `onRequest(socket, n)` gets each complete request head (n = 1, 2 … on that connection). */
const rawUpstream = (onRequest: (socket: Socket, n: number, head: string) => void): Promise<TestUpstream> =>
  tcpUpstream((socket) => {
    let buffered = '';
    let n = 0;
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      buffered += chunk;
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        // Requests here carry no body or a small Content-Length one.
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        onRequest(socket, ++n, head);
      }
    });
  });

const OK = (body = 'ok', keepAlive = true): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n${body}`;

/** Sends a TCP RST as soon as the request head arrives: no response at all. */
export const resetBeforeHeader = (): Promise<TestUpstream> => rawUpstream((socket) => socket.resetAndDestroy());

/** Sends the head and part of a 100-byte body, then a TCP RST. */
export const resetMidBody = (): Promise<TestUpstream> =>
  rawUpstream((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial', () =>
      setTimeout(() => socket.resetAndDestroy(), 50),
    );
  });

/** Closes the connection (FIN) without answering. */
export const closeBeforeHeader = (): Promise<TestUpstream> => rawUpstream((socket) => socket.end());

/** Answers after `delayMs` (slower than the proxy's read timeout). */
export const slowHeader = (delayMs: number): Promise<TestUpstream> =>
  rawUpstream((socket) => {
    const timer = setTimeout(() => socket.writable && socket.write(OK()), delayMs);
    socket.on('close', () => clearTimeout(timer));
  });

/**
 * The keep-alive race made deterministic: the first request on each connection is answered with
 * keep-alive, the second one on the same connection gets the connection closed under it, exactly
 * as an upstream whose idle timer fires while the proxy reuses the connection.
 */
export const closeOnReuse = (how: 'fin' | 'rst'): Promise<TestUpstream> =>
  rawUpstream((socket, n) => {
    if (n === 1) socket.write(OK());
    else if (how === 'fin') socket.end();
    else socket.resetAndDestroy();
  });

/** Accepts connections and never reads from them: a request body bigger than the socket buffers stalls. */
export const neverReads = (): Promise<TestUpstream> => tcpUpstream(() => {}, { pauseOnConnect: true });

/** A plain node:http upstream with a short keep-alive timeout: it closes idle connections itself. */
export async function shortKeepAlive(keepAliveTimeoutMs: number): Promise<TestUpstream> {
  const server = createHttpServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  server.keepAliveTimeout = keepAliveTimeoutMs;
  const port = await listenTcp(server);
  return { upstream: `http://127.0.0.1:${port}`, replacements: {}, close: () => closeServer(server) };
}

const CHILD = fileURLToPath(new URL('./blocking-upstream.js', import.meta.url));

/**
 * {@link CHILD} as a separate process on a unix socket (`where` = 'unix') or TCP with a tiny
 * backlog; `control.block()` resolves once its loop is blocked.
 */
export async function blockingChild(where: 'unix' | 'tcp', backlog: number, blockMs: number): Promise<TestUpstream> {
  let dir: TempDir | undefined;
  let arg = 'tcp';
  if (where === 'unix') {
    dir = await createTempDir('up');
    arg = `unix:${dir.file('app.sock')}`;
  }
  const child = spawn(process.execPath, [CHILD, '--child', arg, String(backlog), String(blockMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<string, () => void>();
  let url = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`blocking upstream exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) {
        url = line.slice(6);
        resolve();
      }
      waiting.get(line)?.();
    });
  });
  await ready;
  const exited = once(child, 'exit');
  return {
    upstream: url,
    replacements: dir ? { [arg.slice(5)]: '/SOCKET' } : {},
    control: {
      url,
      block: () =>
        new Promise<void>((resolve) => {
          waiting.set('blocking', resolve);
          child.stdin!.write('block\n');
        }),
    },
    close: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      if (child.exitCode === null && child.signalCode === null) await exited;
      clearTimeout(timer);
      await dir?.close();
    },
  };
}
