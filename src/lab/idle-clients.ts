import { connect, type Socket } from 'node:net';

/** Options of {@link openIdleClients}. */
export interface IdleClientsOptions {
  /** `http://HOST:PORT` or `unix:/path` of the upstream (clients connect to it directly, like the seed's). */
  url: string;
  /** How many clients to open in all. */
  count: number;
  /** New clients per second. */
  rate: number;
  /** `ready` resolves once this many are opened. Default `count`. */
  warmupCount?: number;
}

/** Counts of the idle clients. */
export interface IdleClientsStats {
  opened: number;
  /** Got their one response: the server keeps their connection open afterwards. */
  answered: number;
  /** Closed by the server while idle (an idle timeout at work). */
  closedByServer: number;
  /** Could not connect, or no answer. */
  failed: number;
}

/** A set of idle keep-alive clients; `close()` closes every one of them. */
export interface IdleClients {
  readonly stats: IdleClientsStats;
  /** Resolves once `warmupCount` clients are opened (or on close). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `count` HTTP/1.1 clients at `rate` per second, each sending one keep-alive GET and then
 * staying silent without ever sending `Connection: close`: the clients of the gevent seed, whose
 * server keeps each socket (and fd) forever unless it has an idle timeout.
 */
export function openIdleClients(options: IdleClientsOptions): IdleClients {
  const stats: IdleClientsStats = { opened: 0, answered: 0, closedByServer: 0, failed: 0 };
  const sockets = new Set<Socket>();
  const target = options.url.startsWith('unix:')
    ? { path: options.url.slice('unix:'.length) }
    : (() => {
        const u = new URL(options.url);
        return { host: u.hostname, port: Number(u.port) };
      })();
  let closing = false;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const warmupCount = Math.min(options.warmupCount ?? options.count, options.count);
  const open = (): void => {
    stats.opened += 1;
    const socket = connect(target);
    sockets.add(socket);
    let answered = false;
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: idle-client\r\n\r\n'));
    socket.on('data', (text: string) => {
      if (!answered && text.startsWith('HTTP/1.1 ')) {
        answered = true;
        stats.answered += 1;
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      if (closing) return;
      if (answered) stats.closedByServer += 1;
      else stats.failed += 1;
    });
  };
  const intervalMs = 1000 / Math.max(1, options.rate);
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (closing || stats.opened >= options.count) return;
    open();
    if (stats.opened >= warmupCount) markReady();
    timer = setTimeout(tick, intervalMs);
  };
  tick();
  return {
    stats,
    ready,
    async close() {
      closing = true;
      markReady();
      if (timer) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
