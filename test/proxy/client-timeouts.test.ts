/**
 * nginx's client-side timeouts, on both proxies with 1 s values: a connection that never sends a
 * request, a slowloris head, a body that stalls after 3 of 1,000 bytes, and a client that never
 * reads a 32 MiB response. Each ends with nginx's error-log line, and nothing stays held upstream:
 * the stalled request never reached it, and the unread response's upstream connection is released.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { findNginx, startProxy, type ProxyHandle } from '../../src/proxy/index.js';
import { waitFor } from '../../src/util/index.js';
import { startRecordingUpstream, type RecordingUpstream } from './recording-upstream.js';

const NGINX = findNginx();
const BIG = 32 * 1024 * 1024;
const TIMEOUTS = { clientHeaderTimeoutMs: 1000, clientBodyTimeoutMs: 1000, clientSendTimeoutMs: 1000 };

/** Opens a connection, writes `first`, then one more header line every 300 ms when `drip`. */
function open(
  port: number,
  first: string | undefined,
  { drip = false, read = true } = {},
): { socket: Socket; closed: Promise<string> } {
  const socket = connect({ host: '127.0.0.1', port });
  let got = '';
  if (!read) socket.pause();
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => {});
  const timer = drip ? setInterval(() => socket.write('X-Drip: 1\r\n'), 300) : undefined;
  if (first !== undefined) socket.write(first);
  const closed = new Promise<string>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve(got);
    }),
  );
  return { socket, closed };
}

for (const kind of ['nginx', 'builtin'] as const) {
  describe(`client timeouts: ${kind}`, {
    concurrency: false,
    skip: kind === 'nginx' && !NGINX ? 'nginx is not installed' : false,
  }, () => {
    let upstream: RecordingUpstream;
    let proxy: ProxyHandle;
    before(async () => {
      upstream = await startRecordingUpstream();
      upstream.setReplies(
        new Map([
          [
            '/big',
            {
              bytes: Buffer.concat([
                Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\n\r\n`),
                Buffer.alloc(BIG, 'x'),
              ]),
            },
          ],
        ]),
      );
      proxy = await startProxy({ kind, upstream: upstream.upstream, keepalive: 2, errorLogLevel: 'info', ...TIMEOUTS });
    });
    after(async () => {
      await proxy?.close();
      await upstream?.close();
    });

    const logLine = (text: string): Promise<string> =>
      waitFor(
        `the error log says "${text}"`,
        async () => (await proxy.readErrorLog()).split('\n').find((l) => l.includes(text)),
        { timeoutMs: 8000 },
      );

    test('a connection that sends nothing is closed after client_header_timeout', { timeout: 15_000 }, async () => {
      const { closed } = open(proxy.port, undefined);
      assert.equal(await closed, '', 'no answer');
      await logLine('client timed out (110: Connection timed out) while waiting for request');
    });

    test('a slowloris head is cut at client_header_timeout, however it drips', { timeout: 15_000 }, async () => {
      upstream.reset();
      const { closed } = open(proxy.port, 'GET /slow HTTP/1.1\r\nHost: x\r\n', { drip: true });
      assert.equal(await closed, '', 'no answer');
      await logLine('client timed out (110: Connection timed out) while reading client request headers');
      assert.deepEqual(upstream.seen, []);
    });

    test('a body stalled after 3 of 1,000 bytes: 408 in the access log, nothing upstream', {
      timeout: 15_000,
    }, async () => {
      upstream.reset();
      const opened = upstream.accepted;
      const { closed } = open(proxy.port, 'POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
      assert.equal(await closed, '', 'no answer');
      const access = await waitFor(
        'the 408',
        async () => (await proxy.readAccessLog()).split('\n').find((l) => l.includes('"POST /stalled HTTP/1.1" 408 ')),
        {
          timeoutMs: 5000,
        },
      );
      assert.ok(access);
      // nginx logs no error line for it; the built-in proxy says what happened.
      if (kind === 'builtin')
        await logLine('client timed out (110: Connection timed out) while reading client request body');
      assert.deepEqual(upstream.seen, [], 'the upstream never saw the request');
      assert.equal(upstream.accepted, opened, 'no upstream connection was even opened for it');
    });

    test('a client that never reads: send_timeout closes it and frees the upstream', { timeout: 20_000 }, async () => {
      upstream.reset();
      const { socket } = open(proxy.port, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n', { read: false });
      try {
        await logLine('client timed out (110: Connection timed out) while sending to client');
        // The upstream is not left holding a half-written response: the built-in proxy drops
        // the connection (never pooled mid-response); nginx had buffered the whole response to disk.
        await waitFor(
          'the upstream to be free',
          () => upstream.sockets.every((s) => s.destroyed || s.writableLength === 0),
          { timeoutMs: 5000 },
        );
        if (kind === 'builtin')
          await waitFor('the upstream connection closed', () => upstream.open === 0, { timeoutMs: 5000 });
      } finally {
        socket.destroy();
      }
    });
  });
}

for (const kind of ['nginx', 'builtin'] as const) {
  test(`client_max_body_size: ${kind} answers 413 and logs it; nothing upstream`, {
    timeout: 20_000,
    skip: kind === 'nginx' && !NGINX ? 'nginx is not installed' : false,
  }, async () => {
    const upstream = await startRecordingUpstream();
    const proxy = await startProxy({ kind, upstream: upstream.upstream, clientMaxBodyBytes: 10 });
    try {
      const { rawExchange } = await import('./raw-client.js');
      const declared = await rawExchange(proxy.port, [
        `POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n${'a'.repeat(20)}`,
      ]);
      assert.deepEqual(
        declared.responses.map((r) => r.status),
        [413],
      );
      const fits = await rawExchange(proxy.port, [
        `POST /fits HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n${'a'.repeat(10)}`,
      ]);
      assert.deepEqual(
        fits.responses.map((r) => r.status),
        [200],
      );
      assert.deepEqual(
        upstream.seen.map((r) => `${r.method} ${r.target} ${r.body.length}`),
        ['POST /fits 10'],
      );
      const errors = await waitFor(
        'the error line',
        async () =>
          (await proxy.readErrorLog()).split('\n').find((l) => l.includes('client intended to send too large body')),
        {
          timeoutMs: 3000,
        },
      );
      assert.match(
        errors,
        /\[error\] .*client intended to send too large body: 20 bytes, client: 127\.0\.0\.1, server: localhost, request: "POST \/big HTTP\/1\.1"/,
      );
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
}
