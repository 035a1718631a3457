import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { createTempDir, sleep, waitFor } from '../../src/util/index.js';
import { readConnections, TCP_STATES, type ConnectionStats, type TcpState } from '../../src/proc/index.js';

async function listen<T extends net.Server>(server: T, options: net.ListenOptions): Promise<T> {
  server.listen(options);
  await once(server, 'listening');
  return server;
}
const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;
const states = (counts: Partial<Record<TcpState, number>>): Record<TcpState, number> =>
  Object.fromEntries(TCP_STATES.map((s) => [s, counts[s] ?? 0])) as Record<TcpState, number>;

/** Raw keep-alive clients: each sends one request, reads the response, and then sits idle. */
async function idleClients(port: number, n: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      await once(socket, 'data');
      return socket;
    }),
  );
}

test('idle keep-alive connections to a server that never closes them: counts and growing idle times', {
  timeout: 10_000,
}, async () => {
  const server = createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 0; // never close idle sockets: the gevent leak of the seeds
  await listen(server, { host: '127.0.0.1', port: 0 });
  const port = portOf(server);
  const clients = await idleClients(port, 5);
  try {
    const first = await readConnections({ port }, { idleMs: 300 });
    assert.deepEqual(
      { ...first, sockets: first.sockets.length, idle: { ...first.idle, maxMs: typeof first.idle.maxMs } },
      {
        kind: 'tcp',
        port,
        source: 'ss',
        states: states({ ESTABLISHED: 5 }),
        total: 5,
        listeners: 1,
        queued: 0,
        idle: { thresholdMs: 300, count: first.idle.count, maxMs: 'number' },
        sockets: 5,
      },
    );
    assert.deepEqual(first.sockets.map((s) => s.peer).sort(), clients.map((c) => `127.0.0.1:${c.localPort}`).sort());
    await sleep(500);
    const second = await readConnections({ port }, { idleMs: 300 });
    assert.equal(second.idle.count, 5);
    // Every socket's idle time grew by at least the 500 ms slept between the two snapshots (less a
    // few ms: the kernel's timers tick in jiffies).
    for (const socket of second.sockets) {
      const before = first.sockets.find((s) => s.peer === socket.peer);
      assert.ok(before && socket.idleMs !== null && before.idleMs !== null);
      assert.ok(socket.idleMs - before.idleMs >= 490, `${socket.peer}: ${before.idleMs} → ${socket.idleMs} ms`);
      assert.equal(socket.idleMs, Math.min(socket.lastRecvMs ?? -1, socket.lastSendMs ?? -1));
    }
    assert.equal(second.idle.maxMs, Math.max(...second.sockets.map((s) => s.idleMs ?? 0)));
    // A fresh request on one of them makes it busy again.
    clients[0]?.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(clients[0] as net.Socket, 'data');
    const third = await readConnections({ port }, { idleMs: 300 });
    assert.equal(third.idle.count, 4);
    // /proc knows the states but no timers.
    const viaProc = await readConnections({ port }, { source: 'proc', idleMs: 300 });
    assert.deepEqual(
      [
        viaProc.source,
        viaProc.states,
        viaProc.listeners,
        viaProc.queued,
        viaProc.idle,
        viaProc.sockets.every((s) => s.idleMs === null),
      ],
      ['proc', states({ ESTABLISHED: 5 }), 1, 0, { thresholdMs: 300, count: null, maxMs: null }, true],
    );
  } finally {
    for (const c of clients) c.destroy();
    server.closeAllConnections();
    server.close();
  }
});

test('TIME_WAIT and CLOSE_WAIT on the server side are counted by state (ss and /proc agree)', {
  timeout: 10_000,
}, async () => {
  const accepted: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    accepted.push(socket);
  });
  await listen(server, { host: '127.0.0.1', port: 0 });
  const port = portOf(server);
  const clients = await Promise.all(
    [0, 1, 2].map(async () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      return socket;
    }),
  );
  try {
    await waitFor('3 accepted', () => accepted.length === 3);
    const serverEnd = (client: net.Socket): net.Socket =>
      accepted.find((s) => s.remotePort === client.localPort) as net.Socket;
    serverEnd(clients[0] as net.Socket).destroy(); // the server closes first → its end waits in TIME_WAIT
    clients[1]?.end(); // the client closes, the server never does → CLOSE_WAIT
    const expected = states({ ESTABLISHED: 1, TIME_WAIT: 1, CLOSE_WAIT: 1 });
    const viaSs = await waitFor('TIME_WAIT + CLOSE_WAIT', async () => {
      const c = await readConnections({ port });
      return JSON.stringify(c.states) === JSON.stringify(expected) ? c : undefined;
    });
    assert.equal(viaSs.total, 3);
    assert.equal(viaSs.sockets.find((s) => s.state === 'TIME_WAIT')?.idleMs, null); // no tcp_info for TIME_WAIT
    const viaProc: ConnectionStats = await readConnections({ port }, { source: 'proc' });
    assert.deepEqual(viaProc.states, expected);
  } finally {
    for (const c of [...clients, ...accepted]) c.destroy();
    server.close();
  }
});

test('unix socket: accepted connections on the path, no timers', { timeout: 10_000 }, async () => {
  await using dir = await createTempDir('conn');
  const path = dir.file('app.sock');
  const accepted: net.Socket[] = [];
  const server = await listen(
    net.createServer((s) => accepted.push(s)),
    { path },
  );
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < 3; i += 1) {
      const socket = net.connect(path);
      clients.push(socket);
      await once(socket, 'connect');
    }
    await waitFor('3 accepted', () => accepted.length === 3);
    const expected = {
      kind: 'unix',
      unixSocket: path,
      states: states({ ESTABLISHED: 3 }),
      total: 3,
      listeners: 1,
      queued: 0,
      idle: { thresholdMs: 1000, count: null, maxMs: null },
      sockets: [],
    };
    assert.deepEqual(await readConnections({ unixSocket: path }), { ...expected, source: 'ss' });
    assert.deepEqual(await readConnections({ unixSocket: path }, { source: 'proc' }), { ...expected, source: 'proc' });
  } finally {
    for (const c of [...clients, ...accepted]) c.destroy();
    server.close();
  }
});

test('connections: bad options are BG_BAD_OPTION', async () => {
  await assert.rejects(readConnections({ port: 70000 }), { code: 'BG_BAD_OPTION' });
  await assert.rejects(readConnections({ port: 80 }, { idleMs: -1 }), {
    code: 'BG_BAD_OPTION',
    message: 'idleMs: -1 is not valid (expected a number of ms ≥ 0)',
  });
});
