/**
 * The table both proxies run: each case builds an upstream that fails one way, drives requests
 * through the proxy, and states what the client gets and the exact error-log lines (time, pid,
 * connection id, ports and temp paths normalised). The expectations were recorded from real
 * nginx 1.22.1 (see test/fixtures/nginx-error-lines.txt); the built-in proxy must match them.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { sleep, waitFor } from '../../src/util/index.js';
import { readListenQueue } from '../../src/proc/index.js';
import type { StartProxyOptions } from '../../src/proxy/index.js';
import * as up from './upstreams.js';
import type { TestUpstream } from './upstreams.js';

/** What a client saw for one request: the status, or `200 truncated` / an error code. */
export type Outcome = string;

export interface ProxyCase {
  id: string;
  /** Proxy options beyond the upstream (short timeouts so the suite stays fast). */
  options: Omit<StartProxyOptions, 'upstream' | 'kind'>;
  /** Why the case cannot run against the built-in proxy, when it cannot. */
  nginxOnly?: string;
  setup(): Promise<TestUpstream>;
  /** Sends the requests; returns one outcome per request, in a stable order. */
  drive(proxyUrl: string, upstream: TestUpstream): Promise<Outcome[]>;
  /** `upstreamStatus` of each access line (joined with `, `, `-` for none), when the case pins it. */
  expected: { outcomes: Outcome[]; errorLines: string[]; accessUpstreamStatus?: string[] };
}

/** One request on a fresh client connection; `200 truncated` when the body broke off. */
export function send(
  url: string,
  { method = 'GET', path = '/', body }: { method?: string; path?: string; body?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      `${url}${path}`,
      { method, agent: false, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('error', () => {});
        res.on('close', () => {
          const expected = Number(res.headers['content-length'] ?? Number.NaN);
          const truncated = !res.complete || (Number.isFinite(expected) && received < expected);
          resolve(`${res.statusCode}${truncated ? ' truncated' : ''}`);
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

const sequential = async (url: string, n: number, options: Parameters<typeof send>[1] = {}): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, options));
  return out;
};

const FAST = { connectTimeoutMs: 300, readTimeoutMs: 300, sendTimeoutMs: 300 } as const;
const UPSTREAM_TCP = 'upstream: "http://127.0.0.1:PORT/"';
const UPSTREAM_UNIX = 'upstream: "http://unix:/SOCKET:/"';
const tail = (upstream: string, method = 'GET'): string =>
  `, client: 127.0.0.1, server: localhost, request: "${method} / HTTP/1.1", ${upstream}, host: "127.0.0.1:PORT"`;

export const CASES: ProxyCase[] = [
  {
    // Three in a row: nginx never marks its only server down (no `no live upstreams`), every try is logged.
    id: 'upstream-down-tcp',
    options: FAST,
    setup: up.tcpClosedPort,
    drive: (url) => sequential(url, 3),
    expected: {
      outcomes: ['502', '502', '502'],
      errorLines: Array.from(
        { length: 3 },
        () => `[error] connect() failed (111: Connection refused) while connecting to upstream${tail(UPSTREAM_TCP)}`,
      ),
    },
  },
  {
    id: 'upstream-down-unix-missing',
    options: FAST,
    setup: up.unixMissing,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['502'],
      errorLines: [
        `[crit] connect() to unix:/SOCKET failed (2: No such file or directory) while connecting to upstream${tail(UPSTREAM_UNIX)}`,
      ],
    },
  },
  {
    id: 'upstream-down-unix-stale',
    options: FAST,
    setup: up.unixStale,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['502'],
      errorLines: [
        `[error] connect() to unix:/SOCKET failed (111: Connection refused) while connecting to upstream${tail(UPSTREAM_UNIX)}`,
      ],
    },
  },
  {
    // nginx's workers as `nobody` (its default when started as root) cannot open a root-only socket.
    id: 'socket-permission',
    options: { ...FAST, user: 'nobody nogroup' },
    nginxOnly: 'the built-in proxy connects as this process, which owns the socket',
    setup: up.unixPrivate,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['502'],
      errorLines: [
        `[crit] connect() to unix:/SOCKET failed (13: Permission denied) while connecting to upstream${tail(UPSTREAM_UNIX)}`,
      ],
    },
  },
  {
    id: 'backlog-full-unix',
    // The queued requests wait out the 1.2 s block, so the read timeout must be longer.
    options: { ...FAST, readTimeoutMs: 5000 },
    setup: () => up.blockingChild('unix', 1, 1200),
    async drive(url, upstream) {
      await upstream.control!.block();
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => send(url)));
      return outcomes.sort();
    },
    expected: {
      outcomes: ['200', '200', '502', '502', '502', '502'],
      errorLines: Array.from(
        { length: 4 },
        () =>
          `[error] connect() to unix:/SOCKET failed (11: Resource temporarily unavailable) while connecting to upstream${tail(UPSTREAM_UNIX)}`,
      ),
    },
  },
  {
    id: 'backlog-full-tcp',
    options: FAST,
    setup: () => up.blockingChild('tcp', 1, 1500),
    async drive(url, upstream) {
      await upstream.control!.block();
      // Fill the accept queue (backlog 1 holds 2) ourselves; the proxy's SYN is then dropped.
      const port = Number(new URL(upstream.control!.url).port);
      const fillers: Socket[] = [];
      for (let i = 0; i < 3; i++) {
        const s = connect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        fillers.push(s);
      }
      await waitFor(
        'the upstream accept queue to be full',
        async () => (await readListenQueue({ port }))?.queue === 2,
        { timeoutMs: 3000, intervalMs: 10 },
      );
      try {
        return await sequential(url, 1);
      } finally {
        for (const s of fillers) s.destroy();
      }
    },
    expected: {
      outcomes: ['504'],
      errorLines: [
        `[error] upstream timed out (110: Connection timed out) while connecting to upstream${tail(UPSTREAM_TCP)}`,
      ],
    },
  },
  {
    id: 'slow-upstream',
    options: FAST,
    setup: () => up.slowHeader(1500),
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['504'],
      errorLines: [
        `[error] upstream timed out (110: Connection timed out) while reading response header from upstream${tail(UPSTREAM_TCP)}`,
      ],
    },
  },
  {
    // 32 MiB the upstream never reads: once the socket buffers are full, no write progresses for
    // longer than the send timeout. nginx takes the whole body first (to a temp file), the
    // built-in proxy streams it; both answer 504.
    id: 'send-timeout',
    options: FAST,
    setup: up.neverReads,
    drive: (url) => sequential(url, 1, { method: 'POST', body: 'x'.repeat(32 * 1024 * 1024) }),
    expected: {
      outcomes: ['504'],
      errorLines: [
        `[error] upstream timed out (110: Connection timed out) while sending request to upstream${tail(UPSTREAM_TCP, 'POST')}`,
      ],
    },
  },
  {
    id: 'reset-before-header',
    options: FAST,
    setup: up.resetBeforeHeader,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['502'],
      errorLines: [
        `[error] recv() failed (104: Connection reset by peer) while reading response header from upstream${tail(UPSTREAM_TCP)}`,
      ],
    },
  },
  {
    id: 'reset-mid-body',
    options: FAST,
    setup: up.resetMidBody,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['200 truncated'],
      errorLines: [
        `[error] readv() failed (104: Connection reset by peer) while reading upstream${tail(UPSTREAM_TCP)}`,
      ],
    },
  },
  {
    id: 'close-before-header',
    options: FAST,
    setup: up.closeBeforeHeader,
    drive: (url) => sequential(url, 1),
    expected: {
      outcomes: ['502'],
      errorLines: [
        `[error] upstream prematurely closed connection while reading response header from upstream${tail(UPSTREAM_TCP)}`,
      ],
    },
  },
  {
    id: 'keepalive-idle-closed',
    // The upstream closes its idle connection after 100 ms; the proxy reuses the pool 400 ms later.
    options: FAST,
    setup: () => up.shortKeepAlive(100),
    async drive(url) {
      const first = await send(url);
      await sleep(400);
      return [first, await send(url)];
    },
    expected: { outcomes: ['200', '200'], errorLines: [] },
  },
  {
    id: 'keepalive-race-get',
    options: FAST,
    setup: () => up.closeOnReuse('fin'),
    drive: (url) => sequential(url, 2),
    expected: {
      outcomes: ['200', '200'],
      errorLines: [
        `[error] upstream prematurely closed connection while reading response header from upstream${tail(UPSTREAM_TCP)}`,
      ],
      // The retry shows in the access log: the failed try, then the one that answered.
      accessUpstreamStatus: ['200', '502, 200'],
    },
  },
  {
    id: 'keepalive-race-get-next-upstream-off',
    options: { ...FAST, nextUpstream: false },
    setup: () => up.closeOnReuse('fin'),
    drive: (url) => sequential(url, 2),
    expected: {
      outcomes: ['200', '502'],
      errorLines: [
        `[error] upstream prematurely closed connection while reading response header from upstream${tail(UPSTREAM_TCP)}`,
      ],
      accessUpstreamStatus: ['200', '502'],
    },
  },
  {
    id: 'keepalive-race-post',
    options: FAST,
    setup: () => up.closeOnReuse('fin'),
    drive: (url) => sequential(url, 2, { method: 'POST', body: 'x=1' }),
    expected: {
      outcomes: ['200', '502'],
      errorLines: [
        `[error] upstream prematurely closed connection while reading response header from upstream${tail(UPSTREAM_TCP, 'POST')}`,
      ],
      accessUpstreamStatus: ['200', '502'],
    },
  },
  {
    id: 'keepalive-race-post-rst',
    options: FAST,
    setup: () => up.closeOnReuse('rst'),
    drive: (url) => sequential(url, 2, { method: 'POST', body: 'x=1' }),
    expected: {
      outcomes: ['200', '502'],
      errorLines: [
        `[error] recv() failed (104: Connection reset by peer) while reading response header from upstream${tail(UPSTREAM_TCP, 'POST')}`,
      ],
    },
  },
];
