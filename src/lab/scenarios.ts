import { openIdleClients } from './idle-clients.js';
import { httpGet } from './http-get.js';
import { sleep } from '../util/index.js';
import type { PhaseCompanion, PhaseProxySpec, RunningUpstream, Scenario, ScenarioPlan } from './scenario.js';
import type { UpstreamKind } from './types.js';

/*
 * The scenario catalogue. Phases are short on purpose (1-2 s of load, 1 s proxy timeouts) so a
 * scenario's fail + fix phases take seconds; the proxy timeouts are what make FD exhaustion and
 * keep-alive leaks show (as 504) behind nginx.
 */

/** Proxy timeouts of most phases: short, so a stuck upstream shows within the phase. */
const SHORT: PhaseProxySpec = { keepalive: 0, connectTimeoutMs: 1000, readTimeoutMs: 1000 };

function unsupported(id: string, upstream: UpstreamKind): never {
  throw new Error(`scenario ${id} has no ${upstream} upstream`);
}

/** Leaks fds on a demo app until it has `ratio` of its limit open (via its /fds and /leak endpoints). */
async function leakTo(upstream: RunningUpstream, ratio: number): Promise<string[]> {
  const fds = JSON.parse((await httpGet(upstream.url, '/fds')).body) as { open: number; limit: number };
  const n = Math.max(0, Math.floor(fds.limit * ratio) - fds.open);
  if (n > 0) await httpGet(upstream.url, `/leak?n=${n}`);
  // The leak happened earlier, not in the instant before the load: give a sampler (the guard's
  // reads fds every 250 ms) the time to see it, as it would have.
  await sleep(LEAK_SETTLE_MS);
  return [`leaked ${n} fds up front: ${fds.open + n} of ${fds.limit} open before the load`];
}

/** Idle clients at `rate`/s: `warmupCount` before the load starts, then on through the load (`count` in all). */
function idleClients(rate: number, warmupCount: number, count: number) {
  return (upstream: RunningUpstream): PhaseCompanion => {
    const clients = openIdleClients({ url: upstream.url, count, rate, warmupCount });
    return {
      ready: clients.ready,
      close: () => clients.close(),
      notes: () => {
        const s = clients.stats;
        const pending = s.opened - s.answered - s.failed;
        return [
          `${s.opened} idle keep-alive clients opened straight to the upstream at ${rate}/s (${warmupCount} before the load): ${s.answered} answered, ` +
            `${s.closedByServer} closed by the server while idle, ${pending > 0 ? `${pending} never answered` : 'none left unanswered'}`,
        ];
      },
    };
  };
}

const FD_LIMIT_NODE = 256;
const LEAK_SETTLE_MS = 500;
const FD_LIMIT_PYTHON = 64;

export const fdExhaustion: Scenario = {
  id: 'fd-exhaustion',
  title: 'Upstream out of file descriptors (EMFILE)',
  causeId: 'fd-exhaustion',
  upstreams: ['node', 'uvicorn'],
  seeds: { uvicorn: '000' },
  plan(upstream): ScenarioPlan {
    if (upstream === 'node') {
      // ~24 requests in flight against 12 free fds: accept() fails with EMFILE whatever the timing.
      const load = { path: '/sleep?ms=300', rate: 80, durationMs: 1500 };
      return {
        how:
          `the demo app runs under RLIMIT_NOFILE ${FD_LIMIT_NODE} and has leaked 95% of it (GET /leak); then ${load.rate} req/s of 300 ms ` +
          'requests through the proxy need more sockets than the fds left: accept() fails with EMFILE and libuv accepts and closes',
        fix: 'badgateway/guard in the app: from 90% of the fd limit it answers 503 + Retry-After at once, before any work, so requests do not pile up into EMFILE',
        phases: {
          fail: {
            description: `demo app, fd limit ${FD_LIMIT_NODE}, no guard`,
            upstream: { kind: 'demo', transport: 'tcp', app: { fdLimit: FD_LIMIT_NODE } },
            proxy: SHORT,
            load,
            prepare: (u) => leakTo(u, 0.95),
          },
          fix: {
            description: `demo app, fd limit ${FD_LIMIT_NODE}, with the guard (maxFdRatio 0.9)`,
            upstream: { kind: 'demo', transport: 'tcp', app: { fdLimit: FD_LIMIT_NODE, guard: true } },
            proxy: SHORT,
            load,
            prepare: (u) => leakTo(u, 0.95),
          },
        },
      };
    }
    if (upstream === 'uvicorn') {
      const load = { path: '/leak?n=1', rate: 60, durationMs: 1500 };
      return {
        how: `seed 000: a plain ASGI app under uvicorn (unix socket) with RLIMIT_NOFILE ${FD_LIMIT_PYTHON} (prlimit); every request leaks one fd (GET /leak?n=1 at ${load.rate}/s)`,
        // 75%, not the guard's 90%: with 64 fds the rest must hold every connection in flight, and an
        // asyncio server that once hits EMFILE on accept() waits a second before it tries again.
        fix: "the seed's middleware: the app answers 503 + Retry-After at 75% of its fd limit instead of leaking into EMFILE",
        phases: {
          fail: {
            description: `uvicorn, fd limit ${FD_LIMIT_PYTHON}, no fd guard`,
            upstream: { kind: 'python', app: { server: 'uvicorn', fdLimit: FD_LIMIT_PYTHON } },
            proxy: SHORT,
            load,
          },
          fix: {
            description: `uvicorn, fd limit ${FD_LIMIT_PYTHON}, fd guard middleware at 75%`,
            upstream: { kind: 'python', app: { server: 'uvicorn', fdLimit: FD_LIMIT_PYTHON, fdGuardRatio: 0.75 } },
            proxy: SHORT,
            load,
          },
        },
      };
    }
    return unsupported(this.id, upstream);
  },
};

export const keepaliveLeak: Scenario = {
  id: 'keepalive-leak',
  title: 'Idle keep-alive connections never closed (socket leak)',
  causeId: 'keepalive-leak',
  upstreams: ['node', 'gevent'],
  seeds: { gevent: '001' },
  plan(upstream): ScenarioPlan {
    // Clients before the load: enough to fill the fd limit when nothing closes them.
    const idle = { rate: 25, warmup: 48, count: 90 };
    const load = { path: '/', rate: 50, durationMs: 1500 };
    if (upstream === 'node') {
      return {
        how: `the demo app runs with keepAliveTimeout 0 (never close idle sockets) under RLIMIT_NOFILE ${FD_LIMIT_PYTHON}; ${idle.rate} new clients a second connect straight to it, send one keep-alive request each and stay idle`,
        fix: 'idle keep-alive timeout 200 ms, and badgateway/guard reaps idle sockets under fd pressure',
        phases: {
          fail: {
            description: `demo app, keepAliveTimeout 0, fd limit ${FD_LIMIT_PYTHON}`,
            upstream: { kind: 'demo', transport: 'tcp', app: { fdLimit: FD_LIMIT_PYTHON, keepAliveTimeoutMs: 0 } },
            proxy: SHORT,
            load,
            alongside: idleClients(idle.rate, idle.warmup, idle.count),
          },
          fix: {
            description: `demo app, keepAliveTimeout 200 ms + guard, fd limit ${FD_LIMIT_PYTHON}`,
            upstream: {
              kind: 'demo',
              transport: 'tcp',
              app: { fdLimit: FD_LIMIT_PYTHON, keepAliveTimeoutMs: 200, guard: true },
            },
            proxy: SHORT,
            load,
            alongside: idleClients(idle.rate, idle.warmup, idle.count),
          },
        },
      };
    }
    if (upstream === 'gevent') {
      return {
        how: `seed 001: gevent pywsgi (no idle timeout) on a unix socket under RLIMIT_NOFILE ${FD_LIMIT_PYTHON} (prlimit); ${idle.rate} new clients a second connect straight to it, send one keep-alive request each and stay idle`,
        fix: "the seed's fix: a WSGIHandler that gives each connection 200 ms (gevent.Timeout), then closes it",
        phases: {
          fail: {
            description: `gevent pywsgi, no connection timeout, fd limit ${FD_LIMIT_PYTHON}`,
            upstream: { kind: 'python', app: { server: 'gevent', fdLimit: FD_LIMIT_PYTHON, connectionTimeoutMs: 0 } },
            proxy: SHORT,
            load,
            alongside: idleClients(idle.rate, idle.warmup, idle.count),
          },
          fix: {
            description: `gevent pywsgi, 200 ms connection timeout handler, fd limit ${FD_LIMIT_PYTHON}`,
            upstream: { kind: 'python', app: { server: 'gevent', fdLimit: FD_LIMIT_PYTHON, connectionTimeoutMs: 200 } },
            proxy: SHORT,
            load,
            alongside: idleClients(idle.rate, idle.warmup, idle.count),
          },
        },
      };
    }
    return unsupported(this.id, upstream);
  },
};

/** Burst above what one blocked worker drains; the fix phase's queue must drain within the read timeout. */
const BURST = { path: '/', rate: 150, durationMs: 1000 };
const QUEUE_PROXY: PhaseProxySpec = { keepalive: 0, connectTimeoutMs: 1000, readTimeoutMs: 3000 };

export const backlogOverflowUnix: Scenario = {
  id: 'backlog-overflow-unix',
  title: 'Accept queue full on a unix socket',
  causeId: 'backlog-overflow-unix',
  upstreams: ['node', 'gunicorn'],
  seeds: { gunicorn: '002' },
  plan(upstream): ScenarioPlan {
    if (upstream === 'node') {
      return {
        how: `the demo app in sync mode (each request blocks the event loop 10 ms: 100 req/s at most) on a unix socket with listen backlog 8, driven at ${BURST.rate} req/s`,
        fix: 'listen backlog 511: the burst waits in the accept queue instead of being refused',
        phases: {
          fail: {
            description: 'sync demo app, 10 ms per request, unix socket, backlog 8',
            upstream: { kind: 'demo', transport: 'unix', app: { sync: true, workMs: 10, backlog: 8 } },
            proxy: QUEUE_PROXY,
            load: BURST,
          },
          fix: {
            description: 'sync demo app, 10 ms per request, unix socket, backlog 511',
            upstream: { kind: 'demo', transport: 'unix', app: { sync: true, workMs: 10, backlog: 511 } },
            proxy: QUEUE_PROXY,
            load: BURST,
          },
        },
      };
    }
    if (upstream === 'gunicorn') {
      return {
        how: `seed 002: gunicorn -k sync -w 1 --backlog 16 on a unix socket, each request sleeps 10 ms, driven at ${BURST.rate} req/s`,
        fix: 'gunicorn --backlog 2048 -w 4: a deeper accept queue and workers enough to drain it',
        phases: {
          fail: {
            description: 'gunicorn, 1 sync worker, backlog 16',
            upstream: { kind: 'python', app: { server: 'gunicorn', workers: 1, backlog: 16, workMs: 10 } },
            proxy: QUEUE_PROXY,
            load: BURST,
          },
          fix: {
            description: 'gunicorn, 4 sync workers, backlog 2048',
            upstream: { kind: 'python', app: { server: 'gunicorn', workers: 4, backlog: 2048, workMs: 10 } },
            proxy: QUEUE_PROXY,
            load: BURST,
          },
        },
      };
    }
    return unsupported(this.id, upstream);
  },
};

export const backlogOverflowTcp: Scenario = {
  id: 'backlog-overflow-tcp',
  title: 'Accept queue full on a TCP socket',
  causeId: 'backlog-overflow-tcp',
  upstreams: ['node'],
  plan(upstream): ScenarioPlan {
    if (upstream !== 'node') return unsupported(this.id, upstream);
    return {
      how: `the demo app in sync mode (10 ms per request) on 127.0.0.1 with listen backlog 8, driven at ${BURST.rate} req/s: the kernel drops SYNs it cannot queue`,
      fix: 'listen backlog 511: the burst waits in the accept queue instead of being dropped',
      phases: {
        fail: {
          description: 'sync demo app, 10 ms per request, TCP, backlog 8',
          upstream: { kind: 'demo', transport: 'tcp', app: { sync: true, workMs: 10, backlog: 8 } },
          proxy: QUEUE_PROXY,
          load: BURST,
        },
        fix: {
          description: 'sync demo app, 10 ms per request, TCP, backlog 511',
          upstream: { kind: 'demo', transport: 'tcp', app: { sync: true, workMs: 10, backlog: 511 } },
          proxy: QUEUE_PROXY,
          load: BURST,
        },
      },
    };
  },
};

/** The race server's keep-alive timeout in the fail phase, and nginx's default upstream keepalive_timeout (60 s) + 5 s for the fix. */
const RACE_TIMEOUT_MS = 10;
const RACE_FIX_TIMEOUT_MS = 65_000;

export const keepaliveRace: Scenario = {
  id: 'keepalive-race',
  title: 'Keep-alive race: upstream closes an idle connection as the proxy reuses it',
  causeId: 'keepalive-race',
  upstreams: ['node'],
  plan(upstream): ScenarioPlan {
    if (upstream !== 'node') return unsupported(this.id, upstream);
    // A new client connection per request: HAProxy answers a failed reused upstream connection with
    // 502 only for a client connection's first request; on a later one it closes the client's
    // connection without a response (and without a log line), so that the client may retry.
    const load = { path: '/', method: 'POST' as const, body: 'x', rate: 50, durationMs: 1500, clientKeepAlive: false };
    const proxy = { keepalive: 16, connectTimeoutMs: 1000, readTimeoutMs: 1000 };
    return {
      how:
        `the proxy keeps idle upstream connections (keepalive 16) and POSTs at ${load.rate}/s, each from a new client connection; the upstream (the lab's race server) has a ` +
        `${RACE_TIMEOUT_MS} ms keep-alive timeout that it checks when a request arrives, closing the expired connection right then: ` +
        'the close and the reuse cross every time, which loopback timing alone almost never does',
      fix: `upstream keep-alive timeout ${RACE_FIX_TIMEOUT_MS / 1000} s, longer than the proxy's idle timeout for pooled connections (nginx: 60 s)`,
      phases: {
        fail: {
          description: `race server, keep-alive timeout ${RACE_TIMEOUT_MS} ms, proxy keepalive pool 16, POST`,
          upstream: { kind: 'race', keepAliveTimeoutMs: RACE_TIMEOUT_MS },
          proxy,
          load,
        },
        fix: {
          description: `race server, keep-alive timeout ${RACE_FIX_TIMEOUT_MS / 1000} s, proxy keepalive pool 16, POST`,
          upstream: { kind: 'race', keepAliveTimeoutMs: RACE_FIX_TIMEOUT_MS },
          proxy,
          load,
        },
      },
    };
  },
};

export const slowUpstream: Scenario = {
  id: 'slow-upstream',
  title: 'Slow upstream: the proxy gives up waiting',
  causeId: 'slow-upstream',
  upstreams: ['node'],
  plan(upstream): ScenarioPlan {
    if (upstream !== 'node') return unsupported(this.id, upstream);
    const load = { path: '/sleep?ms=1500', rate: 20, durationMs: 1000 };
    return {
      how: 'every request takes 1.5 s (GET /sleep?ms=1500 on the demo app) and the proxy read timeout is 1 s',
      fix: 'timeouts aligned: the proxy read timeout (3 s) is longer than the slowest answer the app gives',
      phases: {
        fail: {
          description: 'demo app answering in 1.5 s, proxy read timeout 1 s',
          upstream: { kind: 'demo', transport: 'tcp', app: {} },
          proxy: { keepalive: 0, connectTimeoutMs: 1000, readTimeoutMs: 1000 },
          load,
        },
        fix: {
          description: 'demo app answering in 1.5 s, proxy read timeout 3 s',
          upstream: { kind: 'demo', transport: 'tcp', app: {} },
          proxy: { keepalive: 0, connectTimeoutMs: 1000, readTimeoutMs: 3000 },
          load,
        },
      },
    };
  },
};

export const upstreamDown: Scenario = {
  id: 'upstream-down',
  title: 'Nothing listens on the upstream address',
  causeId: 'upstream-down',
  upstreams: ['node'],
  plan(upstream): ScenarioPlan {
    if (upstream !== 'node') return unsupported(this.id, upstream);
    const load = { path: '/', rate: 50, durationMs: 1000 };
    return {
      how: 'the demo app listens on a unix socket and is killed with SIGKILL: the socket file stays behind with nothing listening on it',
      fix: 'the app is started again on the same path (it removes the stale socket file first)',
      phases: {
        fail: {
          description: 'demo app crashed (SIGKILL), stale unix socket file left behind',
          upstream: { kind: 'demo', transport: 'unix', app: {} },
          socketName: 'app.sock',
          proxy: SHORT,
          load,
          prepare: async (u) => {
            await u.crash();
            return ['the upstream was killed with SIGKILL before the load: its socket file is stale'];
          },
        },
        fix: {
          description: 'demo app started again on the same socket path',
          upstream: { kind: 'demo', transport: 'unix', app: {} },
          socketName: 'app.sock',
          proxy: SHORT,
          load,
        },
      },
    };
  },
};

export const closeWaitLeak: Scenario = {
  id: 'close-wait-leak',
  title: 'The app never closes connections its peer closed (CLOSE_WAIT leak)',
  causeId: 'close-wait-leak',
  upstreams: ['node'],
  notBehind: {
    haproxy:
      'HAProxy ends its connection to the app with a reset, which frees the socket at once: after 5 requests the app held 0 sockets in CLOSE_WAIT behind HAProxy 2.6.12, 5 behind nginx (measured); no pile to reproduce',
  },
  plan(upstream): ScenarioPlan {
    if (upstream !== 'node') return unsupported(this.id, upstream);
    const load = { path: '/', rate: 50, durationMs: 1500 };
    return {
      how:
        `a Node server (node:net, allowHalfOpen) under RLIMIT_NOFILE ${FD_LIMIT_PYTHON} keeps every connection and never closes one the proxy closed: ` +
        `each request leaves a socket in CLOSE_WAIT until accept() fails with EMFILE (${load.rate} req/s through the proxy, no upstream keep-alive)`,
      fix: "the server ends its side when the peer has ended its own ('end' → socket.end()) and forgets the socket",
      phases: {
        fail: {
          description: `node:net server that never closes, fd limit ${FD_LIMIT_PYTHON}`,
          upstream: { kind: 'node-app', app: { app: 'close-wait', fixed: false, fdLimit: FD_LIMIT_PYTHON } },
          proxy: SHORT,
          load,
        },
        fix: {
          description: `the same server closing on the peer's FIN, fd limit ${FD_LIMIT_PYTHON}`,
          upstream: { kind: 'node-app', app: { app: 'close-wait', fixed: true, fdLimit: FD_LIMIT_PYTHON } },
          proxy: SHORT,
          load,
        },
      },
    };
  },
};

/** gunicorn's --timeout in the fail phase, the time each request takes, and the fix's timeout (above the slowest request). */
const GUNICORN_TIMEOUT_S = 1;
const SLOW_REQUEST_MS = 2000;
const GUNICORN_FIX_TIMEOUT_S = 10;

export const workerTimeout: Scenario = {
  id: 'worker-timeout',
  title: 'An app worker died in the middle of a request (killed, timed out or crashed)',
  causeId: 'upstream-crash',
  upstreams: ['node', 'gunicorn'],
  plan(upstream): ScenarioPlan {
    // The proxy waits longer than the request takes: what it sees is the worker dying, not a read timeout.
    const proxy: PhaseProxySpec = { keepalive: 0, connectTimeoutMs: 1000, readTimeoutMs: 3000 };
    if (upstream === 'gunicorn') {
      // POSTs: no proxy retries them (HAProxy's retry-on would quietly retry a GET the dying worker dropped).
      const load = { path: '/', method: 'POST' as const, rate: 2, durationMs: 2000 };
      return {
        how:
          `gunicorn -k sync --timeout ${GUNICORN_TIMEOUT_S} on a unix socket, every request takes ${SLOW_REQUEST_MS / 1000} s: the arbiter kills the worker in the middle of ` +
          `the request ([CRITICAL] WORKER TIMEOUT), nginx reads EOF on a connection it had not reused (${load.rate} req/s)`,
        fix: `gunicorn --timeout ${GUNICORN_FIX_TIMEOUT_S}, above the slowest request (4 sync workers for the 2 s requests)`,
        phases: {
          fail: {
            description: `gunicorn, 2 sync workers, --timeout ${GUNICORN_TIMEOUT_S}, ${SLOW_REQUEST_MS} ms per request`,
            upstream: {
              kind: 'python',
              app: {
                server: 'gunicorn',
                workers: 2,
                backlog: 2048,
                workMs: SLOW_REQUEST_MS,
                timeoutS: GUNICORN_TIMEOUT_S,
              },
            },
            proxy,
            load,
          },
          fix: {
            description: `gunicorn, 4 sync workers, --timeout ${GUNICORN_FIX_TIMEOUT_S}, ${SLOW_REQUEST_MS} ms per request`,
            upstream: {
              kind: 'python',
              app: {
                server: 'gunicorn',
                workers: 4,
                backlog: 2048,
                workMs: SLOW_REQUEST_MS,
                timeoutS: GUNICORN_FIX_TIMEOUT_S,
              },
            },
            proxy,
            load,
          },
        },
      };
    }
    if (upstream === 'node') {
      // One request in four fails: the others keep the app busy while the dead workers are replaced.
      // POSTs: no proxy retries them (HAProxy's retry-on would quietly retry a GET the dying worker
      // dropped). A client connection per request: HAProxy answers 502 only to a connection's first
      // request and closes a kept-alive one without an answer (see keepalive-race).
      const load = {
        path: ['/', '/crash', '/', '/'],
        method: 'POST' as const,
        rate: 12,
        durationMs: 1500,
        clientKeepAlive: false,
      };
      return {
        how:
          'a node:cluster app (four workers, a new one forked when one exits, as pm2 cluster mode does) whose handler throws in the middle of one request in four: ' +
          `the exception is uncaught, the worker dies with the request read and unanswered (${load.rate} req/s, every fourth POST /crash)`,
        fix: 'an error handler catches what the request throws and answers 500: the worker lives, the proxy passes the 500 on (no 502)',
        phases: {
          fail: {
            description: 'node:cluster, the handler throws, nothing catches it',
            upstream: { kind: 'node-app', app: { app: 'crash', fixed: false } },
            proxy,
            load,
          },
          fix: {
            description: 'node:cluster, the handler throws, an error handler answers 500',
            upstream: { kind: 'node-app', app: { app: 'crash', fixed: true } },
            proxy,
            load,
          },
        },
      };
    }
    return unsupported(this.id, upstream);
  },
};

/** Every scenario, in the order `badgateway lab` runs them. */
export const SCENARIOS: readonly Scenario[] = [
  fdExhaustion,
  keepaliveLeak,
  backlogOverflowUnix,
  backlogOverflowTcp,
  keepaliveRace,
  slowUpstream,
  upstreamDown,
  closeWaitLeak,
  workerTimeout,
];

/** The scenario with that id, or undefined. */
export function getScenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
