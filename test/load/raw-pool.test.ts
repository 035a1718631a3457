import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runLoad, serializeRequest } from '../../src/load/index.js';
import { startServer } from './servers.js';

test('serializeRequest writes the request line, Host, headers, content-length and body once', () => {
  const r = serializeRequest(
    'POST',
    '/a?b=1',
    '127.0.0.1:8080',
    { 'X-K': 'v', 'Bad\r\nName': 'x' },
    Buffer.from('hello'),
    false,
  );
  assert.equal(
    r.bytes.toString('latin1'),
    'POST /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nX-K: v\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello',
  );
  assert.equal(r.method, 'POST');
  const g = serializeRequest('HEAD', '/', 'h', { Host: 'other' }, undefined, true);
  assert.equal(g.bytes.toString('latin1'), 'HEAD / HTTP/1.1\r\nHost: other\r\n\r\n');
  assert.equal(g.method, 'HEAD');
});

test('raw engine: chunked, HEAD, 204, 304, 1xx and close-delimited bodies are framed right', {
  timeout: 15_000,
}, async () => {
  const server = await startServer((req, res) => {
    switch (req.url) {
      case '/chunked':
        res.write('abc'); // no content-length: node sends it chunked
        setImmediate(() => res.end('defgh'));
        break;
      case '/204':
        res.statusCode = 204;
        res.end();
        break;
      case '/304':
        res.statusCode = 304;
        res.end();
        break;
      case '/hints':
        res.writeEarlyHints({ link: '</a.css>; rel=preload' });
        res.end('after hints');
        break;
      default:
        res.setHeader('content-length', '4');
        res.end(req.method === 'HEAD' ? undefined : 'body');
    }
  });
  try {
    const m = await runLoad({
      targets: [
        { method: 'GET', url: `${server.url}chunked`, headers: {} },
        { method: 'HEAD', url: `${server.url}head`, headers: {} },
        { method: 'GET', url: `${server.url}204`, headers: {} },
        { method: 'GET', url: `${server.url}304`, headers: {} },
        { method: 'GET', url: `${server.url}hints`, headers: {} },
      ],
      rate: 250,
      durationMs: 200,
      connections: 2,
    });
    assert.equal(m.requests, 50);
    assert.deepEqual(m.errors, {});
    assert.deepEqual(m.statusCodes, { '200': 30, '204': 10, '304': 10 });
    // 8 bytes per chunked body, 11 per hinted one, nothing for HEAD/204/304.
    assert.equal(m.bytesIn, 10 * 8 + 10 * 11);
    assert.ok(server.connections <= 2, `${server.connections} connections`);
  } finally {
    await server.close();
  }
});

test('raw engine: a body delimited by close, connection: close from the server, garbage as BAD_RESPONSE', {
  timeout: 15_000,
}, async () => {
  // A bare TCP server: HTTP/1.0-style response without length, then close.
  let mode = 'close';
  const raw = createNetServer((socket) => {
    socket.once('data', () => {
      if (mode === 'close') socket.end('HTTP/1.1 200 OK\r\n\r\nuntil-close');
      else if (mode === 'connection-close')
        socket.end('HTTP/1.1 503 x\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno');
      else socket.end('SSH-2.0-OpenSSH\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
  try {
    const closed = await runLoad({ url, rate: 100, durationMs: 100 });
    assert.deepEqual(closed.statusCodes, { '200': 10 });
    assert.equal(closed.bytesIn, 110);
    mode = 'connection-close';
    const cc = await runLoad({ url, rate: 100, durationMs: 100 });
    assert.deepEqual(cc.statusCodes, { '503': 10 });
    assert.deepEqual(cc.errors, {});
    mode = 'garbage';
    const bad = await runLoad({ url, rate: 100, durationMs: 100 });
    assert.deepEqual(bad.errors, { BAD_RESPONSE: 10 });
  } finally {
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  }
});

/**
 * The load engine reads responses with the shared parser (src/http1/), so it agrees with the
 * built-in proxy on what a valid response is. Each case: what a bare TCP server answers to every
 * request (the connection kept open unless the answer says otherwise), and what the run counts.
 */
const STRICT_CASES: {
  name: string;
  answer: string;
  errors?: Record<string, number>;
  statusCodes?: Record<string, number>;
  newConnectionEach?: boolean;
}[] = [
  // Before the shared parser, Number('-5') read as "no length": the body ran until a close that never came (TIMEOUT).
  {
    name: 'Content-Length: -5 is BAD_RESPONSE, not TIMEOUT',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'a Content-Length list',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'conflicting Content-Lengths',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'a 101 nobody asked for',
    answer: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'a NUL in a header value',
    answer: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'a head over 64 KiB',
    answer: `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(65 * 1024)}\r\nContent-Length: 2\r\n\r\nok`,
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'a chunk size past any body',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffff\r\n',
    errors: { BAD_RESPONSE: 5 },
  },
  {
    name: 'Transfer-Encoding over Content-Length: the chunked body counts, the connection is not reused',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    statusCodes: { '200': 5 },
    newConnectionEach: true,
  },
  {
    name: 'HTTP/1.0 without keep-alive: not reused',
    answer: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
    statusCodes: { '200': 5 },
    newConnectionEach: true,
  },
  {
    name: 'bytes after the response: counted, the connection dropped',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA',
    statusCodes: { '200': 5 },
    newConnectionEach: true,
  },
];

test('raw engine: the shared parser refuses what the proxy refuses', { timeout: 60_000 }, async (t) => {
  let answer = '';
  let connections = 0;
  const raw = createNetServer((socket) => {
    connections += 1;
    socket.on('data', () => socket.write(answer));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
  try {
    for (const c of STRICT_CASES) {
      await t.test(c.name, async () => {
        answer = c.answer;
        connections = 0;
        // One connection, so reuse (or not) shows in the server's count; a timeout would say the parser waited.
        const m = await runLoad({ url, rate: 100, durationMs: 50, connections: 1, timeoutMs: 3_000 });
        assert.equal(m.requests, 5);
        assert.deepEqual(m.errors, c.errors ?? {});
        assert.deepEqual(m.statusCodes, c.statusCodes ?? {});
        if (c.newConnectionEach) assert.equal(connections, 5);
      });
    }
  } finally {
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  }
});
