import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import { createRaceServer, openIdleClients } from '../../src/lab/index.js';
import { sleep, waitFor } from '../../src/util/index.js';

/** Sends one POST on `socket` and resolves with what came back before the socket closed or answered. */
function post(socket: Socket): Promise<'answered' | 'closed'> {
  return new Promise((resolve) => {
    const onData = (d: Buffer): void => {
      if (d.toString('latin1').startsWith('HTTP/1.1 200 OK')) done('answered');
    };
    const onClose = (): void => done('closed');
    const done = (r: 'answered' | 'closed'): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(r);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx');
  });
}

test('race server: a reuse after the keep-alive timeout meets the close; a quicker reuse is answered', {
  timeout: 10_000,
}, async () => {
  const server = await createRaceServer({ keepAliveTimeoutMs: 50 });
  try {
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    assert.equal(await post(socket), 'answered');
    assert.equal(await post(socket), 'answered', 'reused at once: within the timeout');
    await sleep(80);
    assert.equal(await post(socket), 'closed', 'reused after 80 ms idle: the server closes as the request arrives');
    assert.deepEqual(server.stats, { connections: 1, requests: 2, reused: 2, closedOnArrival: 1 });
  } finally {
    await server.close();
  }
});

test('race server with a long timeout never closes a reused connection', { timeout: 10_000 }, async () => {
  const server = await createRaceServer({ keepAliveTimeoutMs: 65_000 });
  try {
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    for (let i = 0; i < 3; i++) {
      assert.equal(await post(socket), 'answered');
      await sleep(20);
    }
    assert.deepEqual(server.stats, { connections: 1, requests: 3, reused: 2, closedOnArrival: 0 });
    socket.destroy();
  } finally {
    await server.close();
  }
});

test('idle clients stay connected to a server without idle timeout, and are seen closing with one', {
  timeout: 10_000,
}, async () => {
  for (const keepAliveTimeout of [0, 100]) {
    const server = createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = keepAliveTimeout;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const clients = openIdleClients({ url: `http://127.0.0.1:${port}`, count: 5, rate: 200, warmupCount: 3 });
    try {
      await clients.ready;
      assert.ok(clients.stats.opened >= 3);
      await waitFor('5 answers', () => clients.stats.answered === 5, { timeoutMs: 3000 });
      if (keepAliveTimeout === 0) {
        await sleep(300);
        assert.equal(clients.stats.closedByServer, 0);
      } else {
        // Node 20 closes idle sockets about 1 s after keepAliveTimeout.
        await waitFor('server closes idle clients', () => clients.stats.closedByServer === 5, { timeoutMs: 4000 });
      }
      assert.equal(clients.stats.failed, 0);
    } finally {
      await clients.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }
});
