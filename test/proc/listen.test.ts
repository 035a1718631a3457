import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import net from 'node:net';
import { readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { createTempDir, waitFor } from '../../src/util/index.js';
import { readListenQueue, readListenSockets, readNetstatCounters, type ListenSocket } from '../../src/proc/index.js';
import { waitUntilBlocked } from '../helpers/waits.js';
import { startNode } from './children.js';

async function listen<T extends net.Server>(server: T, options: net.ListenOptions): Promise<T> {
  server.listen(options);
  await once(server, 'listening');
  return server;
}
const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;
const close = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

// A child that listens, says where, and then blocks its event loop so nothing is ever accepted:
// the situation of a sync worker busy with a request (a server inside the test process could not
// block without blocking the test).
const BLOCKED = String.raw`
const net = require('net');
const [path] = process.argv.slice(1);
const unix = net.createServer(), tcp = net.createServer();
unix.listen({ path, backlog: 4 }, () => tcp.listen({ host: '127.0.0.1', port: 0, backlog: 3 }, () => {
  console.log(JSON.stringify({ port: tcp.address().port }));
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000), 20);
}));
`;

test('a node:http server on 127.0.0.1:0 with backlog 7: port, backlog, pid, fd and inode (ss and /proc)', {
  timeout: 10_000,
}, async () => {
  const server = await listen(createServer(), { host: '127.0.0.1', port: 0, backlog: 7 });
  try {
    const port = portOf(server);
    const [viaSs, ...moreSs] = await readListenSockets({ port });
    assert.equal(moreSs.length, 0);
    assert.ok(viaSs);
    assert.equal(typeof viaSs.fd, 'number');
    // The fd ss names is really this socket in this process.
    assert.equal(readlinkSync(`/proc/self/fd/${viaSs.fd}`), `socket:[${viaSs.inode}]`);
    assert.deepEqual(viaSs, {
      kind: 'tcp',
      address: '127.0.0.1',
      port,
      inode: viaSs.inode,
      queue: 0,
      backlog: 7,
      owners: [{ command: 'node', pid: process.pid, fd: viaSs.fd }],
      source: 'ss',
      pid: process.pid,
      fd: viaSs.fd,
    });
    // /proc alone: same socket and queue, owner found by scanning /proc/*/fd; no backlog.
    const viaProc = await readListenSockets({ port }, { source: 'proc' });
    assert.deepEqual(viaProc, [
      { ...viaSs, backlog: null, source: 'proc', owners: [{ command: 'node', pid: process.pid, fd: viaSs.fd }] },
    ]);
    assert.deepEqual(await readListenQueue({ port }), { queue: 0, backlog: 7, pid: process.pid, listeners: 1 });
    assert.deepEqual(await readListenQueue({ port, host: '::1' }), undefined);
    // owners: false skips the (costly) scan of every process's fds: no pid, same queue facts.
    assert.deepEqual(await readListenQueue({ port }, { owners: false }), { queue: 0, backlog: 7, listeners: 1 });
    assert.deepEqual(
      await readListenSockets({ port }, { owners: false }),
      [{ ...viaSs, owners: [], pid: undefined, fd: undefined }].map(({ pid: _p, fd: _f, ...rest }) => rest),
    );
    assert.deepEqual(await readListenQueue({ port }, { owners: false, source: 'proc' }), {
      queue: 0,
      backlog: null,
      listeners: 1,
    });
  } finally {
    await close(server);
  }
});

test('IPv6 listeners: ::1 and the dual-stack any address are tcp6', { timeout: 10_000 }, async () => {
  const loop6 = await listen(net.createServer(), { host: '::1', port: 0, backlog: 9 });
  const dual = await listen(net.createServer(), { port: 0, backlog: 11 });
  try {
    const pick = (s: ListenSocket[]): unknown[] =>
      s.map(({ kind, address, port, backlog, pid }) => ({ kind, address, port, backlog, pid }));
    assert.deepEqual(pick(await readListenSockets({ port: portOf(loop6) })), [
      { kind: 'tcp6', address: '::1', port: portOf(loop6), backlog: 9, pid: process.pid },
    ]);
    assert.deepEqual(pick(await readListenSockets({ port: portOf(dual) })), [
      { kind: 'tcp6', address: '::', port: portOf(dual), backlog: 11, pid: process.pid },
    ]);
    assert.deepEqual(pick(await readListenSockets({ port: portOf(dual) }, { source: 'proc' })), [
      { kind: 'tcp6', address: '::', port: portOf(dual), backlog: null, pid: process.pid },
    ]);
    const ours = await readListenSockets({ pid: process.pid, kind: 'tcp6' });
    assert.deepEqual(ours.map((s) => s.port).sort(), [portOf(loop6), portOf(dual)].sort());
  } finally {
    await Promise.all([close(loop6), close(dual)]);
  }
});

test('full accept queues of a blocked child: unix backlog 4 holds 5, TCP backlog 3 holds 4', {
  timeout: 15_000,
}, async () => {
  await using dir = await createTempDir('listen');
  const path = dir.file('app.sock');
  const child = startNode(BLOCKED.replace('process.argv.slice(1)', JSON.stringify([path])));
  const clients: net.Socket[] = [];
  try {
    const { port } = JSON.parse(await child.nextLine(/^\{/)) as { port: number };
    await waitUntilBlocked(child.pid);
    const before = await readNetstatCounters();

    // Unix: connect() succeeds while the queue holds ≤ backlog, i.e. for backlog + 1 clients; the
    // rest fail at once with EAGAIN (what nginx logs as "(11: Resource temporarily unavailable)").
    const outcomes = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<string>((resolve) => {
            const socket = net.connect(path);
            clients.push(socket);
            socket.once('connect', () => resolve('connected'));
            socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
          }),
      ),
    );
    assert.deepEqual(outcomes.filter((o) => o === 'connected').length, 5);
    assert.deepEqual(outcomes.filter((o) => o === 'EAGAIN').length, 5);
    assert.deepEqual(await readListenQueue({ unixSocket: path }), {
      queue: 5,
      backlog: 4,
      pid: child.pid,
      listeners: 1,
    });
    assert.deepEqual(await readListenQueue({ unixSocket: path }, { source: 'proc' }), {
      queue: 5,
      backlog: null,
      pid: child.pid,
      listeners: 1,
    });

    // TCP: the kernel queues backlog + 1 handshakes and drops further SYNs (the clients keep
    // retrying in SYN_SENT), counting each drop in ListenOverflows.
    for (let i = 0; i < 10; i += 1) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      clients.push(socket);
    }
    const queue = await waitFor('4 queued TCP connections', async () => {
      const q = await readListenQueue({ port });
      return q?.queue === 4 ? q : undefined;
    });
    assert.deepEqual(queue, { queue: 4, backlog: 3, pid: child.pid, listeners: 1 });
    assert.deepEqual(await readListenQueue({ port }, { source: 'proc' }), {
      queue: 4,
      backlog: null,
      pid: child.pid,
      listeners: 1,
    });
    // Counters are namespace-wide (other processes may add to them), so: at least our 6 drops.
    const after = await waitFor('ListenOverflows +6', async () => {
      const c = await readNetstatCounters();
      return c.listenOverflows - before.listenOverflows >= 6 ? c : undefined;
    });
    assert.ok(after.listenDrops - before.listenDrops >= 6);
  } finally {
    for (const socket of clients) socket.destroy();
    await child.close();
  }
});

test('nothing listening: readListenQueue is undefined; bad targets are BG_BAD_OPTION', async () => {
  const server = await listen(net.createServer(), { host: '127.0.0.1', port: 0 });
  const port = portOf(server);
  await close(server);
  assert.equal(await readListenQueue({ port }), undefined);
  assert.equal(await readListenQueue({ unixSocket: '/tmp/bg-no-such-dir/none.sock' }), undefined);
  await assert.rejects(readListenQueue({ port: 0 }), {
    code: 'BG_BAD_OPTION',
    message: 'port: 0 is not valid (expected an integer 1..65535)',
  });
  await assert.rejects(readListenQueue({ unixSocket: '' }), { code: 'BG_BAD_OPTION' });
  await assert.rejects(readListenSockets({ pid: -3 }), { code: 'BG_BAD_OPTION' });
});

test('without ss: auto falls back to /proc, source "ss" is BG_MISSING_TOOL', async () => {
  const server = await listen(net.createServer(), { host: '127.0.0.1', port: 0, backlog: 5 });
  try {
    const port = portOf(server);
    const [fallback] = await readListenSockets({ port }, { ssPath: '/nonexistent/ss' });
    assert.deepEqual(
      [fallback?.source, fallback?.backlog, fallback?.queue, fallback?.pid],
      ['proc', null, 0, process.pid],
    );
    await assert.rejects(readListenSockets({ port }, { source: 'ss', ssPath: '/nonexistent/ss' }), {
      code: 'BG_MISSING_TOOL',
      message: 'ss not found (/nonexistent/ss)',
    });
  } finally {
    await close(server);
  }
});
