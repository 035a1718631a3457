import { createServer, type Server, type Socket } from 'node:net';
import { listen } from '../util/index.js';

/** Options of {@link createRaceServer}. */
export interface RaceServerOptions {
  /**
   * The server's keep-alive timeout in ms. A connection that has been idle at least this long when
   * the next request's first bytes arrive is closed right then, before reading the request: the
   * moment a real server's idle timer fires as the proxy reuses the connection. 0 = never close.
   */
  keepAliveTimeoutMs: number;
  host?: string;
}

/** What the race server counted: the hit rate of the race is `closedOnArrival / reused`. */
export interface RaceServerStats {
  connections: number;
  requests: number;
  /** Requests that arrived on a connection that had already served one (a reused keep-alive connection). */
  reused: number;
  /** Reused connections closed as the request arrived because the keep-alive timeout had expired. */
  closedOnArrival: number;
}

/** A running race server. */
export interface RaceServer {
  readonly url: string;
  readonly port: number;
  readonly stats: RaceServerStats;
  /** Requests being answered now (always 0 or 1 per connection: answers are immediate). */
  inflight(): number;
  close(): Promise<void>;
}

const HEADER_END = '\r\n\r\n';
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * A tiny HTTP/1.1 keep-alive server for the keep-alive race. The race needs a close and a reuse to
 * cross, which loopback timing almost never produces (nginx and Node drop a pooled connection on
 * the upstream's FIN before reusing it); this server makes the crossing deterministic instead of
 * waiting for luck: its keep-alive timeout is checked when a request arrives rather than on a timer,
 * so every reuse after the timeout meets a connection the server is closing. It closes with a FIN,
 * as Node does at `keepAliveTimeout`, so the proxy reads EOF instead of a response.
 */
export async function createRaceServer(options: RaceServerOptions): Promise<RaceServer> {
  const stats: RaceServerStats = { connections: 0, requests: 0, reused: 0, closedOnArrival: 0 };
  const sockets = new Set<Socket>();
  let inflight = 0;
  const server: Server = createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let served = 0;
    let idleSince = 0;
    socket.on('data', (chunk: Buffer) => {
      if (buffer.length === 0 && served > 0) {
        stats.reused += 1;
        if (options.keepAliveTimeoutMs > 0 && Date.now() - idleSince >= options.keepAliveTimeoutMs) {
          stats.closedOnArrival += 1;
          socket.destroy();
          return;
        }
      }
      buffer = Buffer.concat([buffer, chunk]);
      // Answer every complete request in the buffer (a proxy never pipelines, but be exact).
      for (;;) {
        const end = buffer.indexOf(HEADER_END);
        if (end === -1) {
          if (buffer.length > MAX_HEADER_BYTES) socket.destroy();
          return;
        }
        const head = buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        const total = end + HEADER_END.length + length;
        if (buffer.length < total) return;
        buffer = buffer.subarray(total);
        stats.requests += 1;
        served += 1;
        inflight += 1;
        const close = /\r\nconnection:\s*close/i.test(head);
        // No `Keep-Alive: timeout=` header, like Go's net/http and most Python servers: the proxy cannot
        // learn the timeout (undici-based clients would otherwise stop reusing in time).
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n${close ? 'Connection: close\r\n' : ''}\r\nok\n`,
        );
        inflight -= 1;
        idleSince = Date.now();
        if (close) {
          socket.end();
          return;
        }
      }
    });
  });
  await listen(server, { port: 0, host: options.host ?? '127.0.0.1' });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    inflight: () => inflight,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
