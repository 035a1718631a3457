import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runLoad, serializeRequest } from '../../src/load/index.js';
import { startServer } from './servers.js';

test('serializeRequest writes the request line, Host, headers, content-length and body once', () => {
  const r = serializeRequest('POST', '/a?b=1', '127.0.0.1:8080', { 'X-K': 'v', 'Bad\r\nName': 'x' }, Buffer.from('hello'), false);
  assert.equal(r.bytes.toString('latin1'), 'POST /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nX-K: v\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
  assert.equal(r.head, false);
  const g = serializeRequest('HEAD', '/', 'h', { Host: 'other' }, undefined, true);
  assert.equal(g.bytes.toString('latin1'), 'HEAD / HTTP/1.1\r\nHost: other\r\n\r\n');
  assert.equal(g.head, true);
});

test('raw engine: chunked, HEAD, 204, 304, 1xx and close-delimited bodies are framed right', { timeout: 15_000 }, async () => {
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

test('raw engine: a body delimited by close, connection: close from the server, garbage as BAD_RESPONSE', { timeout: 15_000 }, async () => {
  // A bare TCP server: HTTP/1.0-style response without length, then close.
  let mode = 'close';
  const raw = createNetServer((socket) => {
    socket.once('data', () => {
      if (mode === 'close') socket.end('HTTP/1.1 200 OK\r\n\r\nuntil-close');
      else if (mode === 'connection-close') socket.end('HTTP/1.1 503 x\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno');
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
