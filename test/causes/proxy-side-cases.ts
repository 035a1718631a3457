/**
 * Failures that need an nginx config runNginx does not generate: nginx's own limits (fds,
 * worker_connections), an upstream group with max_fails, header and body phases of the response,
 * a request body the upstream will not take. Each case builds its upstream, starts nginx with its
 * config, drives a few requests and states what the client got and which catalogue pattern each
 * error-log line classifies as. The expectations were recorded from real nginx 1.22.1 here (the
 * lines are in test/fixtures/nginx-error-lines.txt).
 */
import { request } from 'node:http';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { findFreePort } from '../../src/proxy/index.js';
import { sleep, waitFor } from '../../src/util/index.js';
import type { CustomNginx, CustomNginxConfig } from '../../src/testing/index.js';

/** What a client saw for one request: the status, `200 truncated`, or an error code. */
export type Outcome = string;

export interface Upstream {
  /** `host:port` for nginx's `server` directive. */
  addresses: string[];
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** What a case's `drive` gets: where nginx listens, nginx itself, the upstream. */
export interface DriveContext {
  url: string;
  nginx: CustomNginx;
  upstream: Upstream;
}

export interface SideCase {
  id: string;
  /**
   * Runs only in a private network namespace (`unshare -n`), where it may change per-namespace
   * sysctls without touching the machine's: the reason it cannot run elsewhere.
   */
  netns?: string;
  setup(): Promise<Upstream>;
  /** The config for `startCustomNginx`, given the upstream. */
  config(upstream: Upstream): CustomNginxConfig;
  drive(context: DriveContext): Promise<Outcome[]>;
  expected: {
    /** Client outcomes, in request order. */
    outcomes: Outcome[];
    /**
     * Pattern id of every classified error-log line, in log order; a `+` suffix: one or more in a
     * row; `a|b`: either (only where nginx itself races, said at the case).
     */
    patterns: string[];
  };
}

interface SendOptions {
  method?: string;
  path?: string;
  /** Body size in bytes (sent as `x` repeated, in 64 KB chunks). */
  bodyBytes?: number;
  timeoutMs?: number;
}

/** One request on a fresh connection to `url` (`http://…` or `unix:PATH`); never rejects. */
export function send(
  url: string,
  { method = 'GET', path = '/', bodyBytes, timeoutMs = 5000 }: SendOptions = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const headers = bodyBytes === undefined ? {} : { 'content-length': bodyBytes };
    const where = url.startsWith('unix:')
      ? { socketPath: url.slice(5), path }
      : { host: new URL(url).hostname, port: Number(new URL(url).port), path };
    const req = request({ ...where, method, agent: false, headers, timeout: timeoutMs }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('error', () => {});
      res.on('close', () => {
        const length = Number(res.headers['content-length'] ?? Number.NaN);
        const truncated = !res.complete || (Number.isFinite(length) && received < length);
        done(`${res.statusCode}${truncated ? ' truncated' : ''}`);
      });
    });
    req.on('timeout', () => {
      done('timeout');
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    if (bodyBytes === undefined) {
      req.end();
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let left = bodyBytes;
    const pump = (): void => {
      while (left > 0 && !req.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

const sequential = async (url: string, n: number, options: SendOptions = {}): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, options));
  return out;
};

/**
 * Starts `n` requests one after another, each once the upstream has accepted the previous one's
 * connection: they then hold nginx's connections (client + upstream) in a known order.
 */
async function held(context: DriveContext, n: number, options: SendOptions = {}): Promise<Promise<Outcome>[]> {
  const pending: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) {
    const before = context.upstream.accepted();
    pending.push(send(context.url, options));
    await waitFor(`upstream connection ${i + 1}`, () => context.upstream.accepted() > before, { timeoutMs: 3000 });
  }
  return pending;
}

/** Idle client connections (no request sent): each holds one nginx connection and one fd. */
async function idleClients(url: string, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = url.startsWith('unix:')
      ? connect(url.slice(5))
      : connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
    s.on('error', () => {});
    sockets.push(s);
    await once(s, 'connect');
  }
  return sockets;
}

const FD_LIMIT = 24;

/**
 * Fds the process has open below {@link FD_LIMIT}: what decides EMFILE, as a new fd takes the
 * lowest free number (an inherited pipe sits at fd 251 and does not count).
 */
const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).filter((fd) => Number(fd) < FD_LIMIT).length;

/**
 * Opens idle clients until the worker holds exactly `target` fds below FD_LIMIT, and it stays so
 * for 50 ms. Counted as we go rather than from one snapshot: a connection nginx is still closing
 * (the start-up probe) would otherwise leave one fd free.
 */
async function fillFds(url: string, pid: number, target: number): Promise<Socket[]> {
  const idle: Socket[] = [];
  for (let round = 0; round < 3 * FD_LIMIT; round++) {
    const open = openFds(pid);
    if (open === target) {
      await sleep(50);
      if (openFds(pid) === target) return idle;
      continue;
    }
    if (open > target) throw new Error(`nginx worker holds ${open} fds, more than ${target}`);
    idle.push(...(await idleClients(url, 1)));
    await waitFor('the idle client accepted', () => openFds(pid) > open, { timeoutMs: 1000 }).catch(() => undefined);
  }
  throw new Error(`could not bring nginx worker to ${target} fds`);
}

/** A raw TCP upstream: `onConnection` gets each accepted socket; every socket is destroyed on close. */
async function raw(onConnection: (socket: Socket) => void, port = 0): Promise<Upstream> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    addresses: [`127.0.0.1:${bound}`],
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Calls `handler(socket)` once the request head has arrived (the body, if any, is left unread). */
const onHead =
  (handler: (socket: Socket) => void) =>
  (socket: Socket): void => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      if (buffered.includes('\r\n\r\n')) {
        socket.off('data', onData);
        handler(socket);
      }
    };
    socket.on('data', onData);
  };

/** Ports nothing listens on (free a moment ago). */
const refusedPorts = async (n: number): Promise<Upstream> => ({
  addresses: await Promise.all(Array.from({ length: n }, async () => `127.0.0.1:${await findFreePort()}`)),
  accepted: () => 0,
  close: async () => {},
});

const group = (u: Upstream, serverSuffix = ''): string[] => [
  'upstream backend {',
  ...u.addresses.map((a) => `server ${a}${serverSuffix};`),
  '}',
];
const timeouts = (readMs = 300): string[] => [
  'proxy_connect_timeout 300ms;',
  `proxy_read_timeout ${readMs}ms;`,
  'proxy_send_timeout 300ms;',
];
const PASS = ['proxy_pass http://backend;', ...timeouts()];
const PASS_SLOW = ['proxy_pass http://backend;', ...timeouts(3000)];
const BIG_BODY = { method: 'POST', bodyBytes: 8 * 1024 * 1024 } as const;

const HEAD = (extra = '', contentLength = 100): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${contentLength}\r\n${extra}Connection: close\r\n\r\n`;

/** Answers `ok` after `ms`: a slow request that holds its two nginx connections meanwhile. */
const slowOk = (ms: number) =>
  onHead((socket) => {
    const timer = setTimeout(() => socket.writable && socket.end(`${HEAD('', 2)}ok`), ms);
    socket.on('close', () => clearTimeout(timer));
  });

const SLOW_MS = 700;

export const SIDE_CASES: SideCase[] = [
  {
    // 64 KB of header against the default proxy_buffer_size (one page, 4 KB).
    id: 'too-big-header',
    setup: () => raw(onHead((socket) => socket.end(`${HEAD(`X-Big: ${'b'.repeat(64 * 1024)}\r\n`, 2)}ok`))),
    config: (u) => ({ http: group(u), location: PASS }),
    drive: ({ url }) => sequential(url, 1),
    expected: { outcomes: ['502'], patterns: ['too-big-header'] },
  },
  {
    // Two refused servers, max_fails=1: the first request marks both down, the next ones find none.
    id: 'no-live-upstreams',
    setup: () => refusedPorts(2),
    config: (u) => ({ http: group(u, ' max_fails=1 fail_timeout=10s'), location: PASS }),
    drive: ({ url }) => sequential(url, 3),
    expected: {
      outcomes: ['502', '502', '502'],
      patterns: [
        'connect-refused',
        'upstream-disabled',
        'connect-refused',
        'upstream-disabled',
        'no-live-upstreams',
        'no-live-upstreams',
      ],
    },
  },
  {
    // 7 connections: the listener and the channel to the master take two, two held requests four;
    // the third client takes the last one and its upstream connection finds none: 500.
    id: 'worker-connections-upstream',
    setup: () => raw(slowOk(SLOW_MS)),
    config: (u) => ({ events: ['worker_connections 7;'], http: group(u), location: PASS_SLOW }),
    async drive(context) {
      const slow = await held(context, 2);
      const third = await send(context.url);
      return [...(await Promise.all(slow)), third];
    },
    expected: { outcomes: ['200', '200', '500'], patterns: ['worker-connections-upstream'] },
  },
  {
    // 8 connections, three held requests: nothing is left to accept the fourth client, which nginx
    // accepts and closes at once.
    id: 'worker-connections-accept',
    setup: () => raw(slowOk(SLOW_MS)),
    config: (u) => ({ events: ['worker_connections 8;'], http: group(u), location: PASS_SLOW }),
    async drive(context) {
      const slow = await held(context, 3);
      const fourth = await send(context.url);
      return [...(await Promise.all(slow)), fourth];
    },
    expected: { outcomes: ['200', '200', '200', 'ECONNRESET'], patterns: ['worker-connections'] },
  },
  {
    // 8 connections, two held requests, two idle clients: a new request makes nginx close the idle
    // clients to reuse their connections (once per second it says so), and it succeeds.
    id: 'worker-connections-reuse',
    setup: () => raw(slowOk(SLOW_MS)),
    config: (u) => ({ events: ['worker_connections 8;'], http: group(u), location: PASS_SLOW }),
    async drive(context) {
      const slow = await held(context, 2);
      const idle = await idleClients(context.url, 2);
      const closed = idle.map((s) => once(s, 'close').then(() => 'closed'));
      const fifth = await send(context.url);
      const idleOutcomes = await Promise.race([
        Promise.all(closed),
        sleep(1000).then(() => idle.map((s) => (s.destroyed ? 'closed' : 'open'))),
      ]);
      for (const s of idle) s.destroy();
      return [...(await Promise.all(slow)), ...idleOutcomes, fifth];
    },
    expected: { outcomes: ['200', '200', 'closed', 'closed', '200'], patterns: ['worker-connections-reuse'] },
  },
  {
    // worker_rlimit_nofile 24 (FD_LIMIT): idle clients fill the worker's fds but one; the next client takes
    // the last fd, and socket() for its upstream connection fails: 500.
    id: 'proxy-emfile-upstream',
    setup: () => raw(slowOk(SLOW_MS)),
    config: (u) => ({ main: [`worker_rlimit_nofile ${FD_LIMIT};`], http: group(u), location: PASS_SLOW }),
    async drive({ url, nginx }) {
      const idle = await fillFds(url, nginx.workerPid, FD_LIMIT - 1);
      try {
        return [await send(url)];
      } finally {
        for (const s of idle) s.destroy();
      }
    },
    expected: { outcomes: ['500'], patterns: ['proxy-emfile-upstream'] },
  },
  {
    // worker_rlimit_nofile 24, every fd taken by idle clients: accept4() fails (nginx retries every
    // 500 ms), the next client waits in the listen queue without an answer.
    id: 'proxy-emfile-accept',
    setup: () => raw(slowOk(SLOW_MS)),
    config: (u) => ({ main: [`worker_rlimit_nofile ${FD_LIMIT};`], http: group(u), location: PASS_SLOW }),
    async drive({ url, nginx }) {
      const idle = await fillFds(url, nginx.workerPid, FD_LIMIT);
      // One more idle client than there are fds: it stays in the listen queue.
      idle.push(...(await idleClients(url, 1)));
      try {
        await waitFor('accept4() to fail', async () => (await nginx.readErrorLog()).includes('accept4() failed'), {
          timeoutMs: 2000,
        });
        return [await send(url, { timeoutMs: 300 })];
      } finally {
        for (const s of idle) s.destroy();
      }
    },
    expected: { outcomes: ['timeout'], patterns: ['proxy-emfile+'] },
  },
  {
    id: 'body-timeout',
    setup: () => raw(onHead((socket) => socket.write(`${HEAD()}partial`))),
    config: (u) => ({ http: group(u), location: PASS }),
    drive: ({ url }) => sequential(url, 1),
    expected: { outcomes: ['200 truncated'], patterns: ['body-timeout'] },
  },
  {
    id: 'body-premature-close',
    setup: () => raw(onHead((socket) => socket.end(`${HEAD()}partial`))),
    config: (u) => ({ http: group(u), location: PASS }),
    drive: ({ url }) => sequential(url, 1),
    expected: { outcomes: ['200 truncated'], patterns: ['body-premature-close'] },
  },
  {
    // With proxy_buffering on (the default) nginx reads the body with readv(), off with recv().
    id: 'body-reset-unbuffered',
    setup: () =>
      raw(onHead((socket) => socket.write(`${HEAD()}partial`, () => setTimeout(() => socket.resetAndDestroy(), 50)))),
    config: (u) => ({ http: group(u), location: [...PASS, 'proxy_buffering off;'] }),
    drive: ({ url }) => sequential(url, 1),
    expected: { outcomes: ['200 truncated'], patterns: ['body-reset'] },
  },
  {
    // The upstream accepts and never reads: 8 MB outgrow the loopback socket buffers.
    id: 'send-timeout',
    setup: () => raw(() => {}),
    config: (u) => ({ http: [...group(u), 'client_max_body_size 16m;'], location: PASS }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['504'], patterns: ['send-timeout'] },
  },
  {
    id: 'send-timeout-unbuffered',
    setup: () => raw(() => {}),
    config: (u) => ({
      http: [...group(u), 'client_max_body_size 16m;'],
      location: [...PASS, 'proxy_request_buffering off;'],
    }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['504'], patterns: ['send-timeout'] },
  },
  {
    // The upstream never reads and resets 100 ms after the head: nginx is blocked on the full
    // window, and the read event (handled before the write event) reports the reset.
    id: 'send-reset-blocked',
    setup: () =>
      raw(
        onHead((socket) => {
          socket.pause();
          setTimeout(() => socket.resetAndDestroy(), 100);
        }),
      ),
    config: (u) => ({ http: [...group(u), 'client_max_body_size 16m;'], location: PASS }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['502'], patterns: ['recv-reset'] },
  },
  {
    // The upstream resets as soon as the request head arrives, while nginx still writes the body:
    // writev() fails when nginx is writing at that moment, recv() when it waits for the window
    // (a race; both recorded).
    id: 'send-reset',
    setup: () => raw(onHead((socket) => socket.resetAndDestroy())),
    config: (u) => ({ http: [...group(u), 'client_max_body_size 16m;'], location: PASS }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['502'], patterns: ['send-failed|recv-reset'] },
  },
  {
    // Closed with unread data, so the kernel answers nginx's next segments with RST: EPIPE or
    // ECONNRESET from writev(), or the recv() race above.
    id: 'send-broken-pipe',
    setup: () => raw(onHead((socket) => socket.destroy())),
    config: (u) => ({ http: [...group(u), 'client_max_body_size 16m;'], location: PASS }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['502'], patterns: ['send-failed|recv-reset'] },
  },
  {
    // With sendfile on, nginx sends a request body buffered to a temp file with sendfile().
    id: 'send-reset-sendfile',
    setup: () => raw(onHead((socket) => socket.resetAndDestroy())),
    config: (u) => ({ http: [...group(u), 'client_max_body_size 16m;', 'sendfile on;'], location: PASS }),
    drive: ({ url }) => sequential(url, 1, BIG_BODY),
    expected: { outcomes: ['502'], patterns: ['send-failed|recv-reset'] },
  },
  {
    // Two local ports for the whole namespace (ip_local_port_range 40000 40001): two held
    // requests take both, the third connect() finds none.
    id: 'ephemeral-ports',
    netns: 'narrows ip_local_port_range, a per-network-namespace sysctl',
    setup: () => raw(slowOk(SLOW_MS), 9000),
    config: (u) => ({ http: group(u), location: PASS_SLOW, unixSocket: true }),
    async drive(context) {
      const slow = await held(context, 2);
      const third = await send(context.url);
      return [...(await Promise.all(slow)), third];
    },
    expected: { outcomes: ['200', '200', '502'], patterns: ['connect-eaddrnotavail'] },
  },
];
