/**
 * What only the built-in proxy needs proving (nginx does these by itself): hop-by-hop headers
 * dropped both ways, X-Forwarded-For appended, bodies streamed both ways, no pooling with
 * keepalive 0, a client that leaves is a 499, and the handle's cleanup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createHash } from 'node:crypto';
import { createProxy, type ProxyOptions } from '../../src/proxy/index.js';
import { parseAccessLogLine } from '../../src/doctor/index.js';
import { waitFor } from '../../src/util/index.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

async function withProxy(
  handler: RequestListener,
  options: Omit<ProxyOptions, 'upstream'>,
  body: (proxyUrl: string, proxy: Awaited<ReturnType<typeof createProxy>>, upstream: Server) => Promise<void>,
): Promise<void> {
  const upstream = createServer(handler);
  const upstreamUrl = await listen(upstream);
  const proxy = await createProxy({ ...options, upstream: upstreamUrl });
  try {
    await body(proxy.url, proxy, upstream);
  } finally {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
}

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('hop-by-hop request headers are dropped, the rest forwarded with X-Forwarded-For appended', {
  timeout: 10_000,
}, async () => {
  await withProxy(
    (req, res) => res.end(JSON.stringify(req.headers)),
    {},
    async (url) => {
      const r = await get(`${url}/echo?q=1`, {
        Connection: 'keep-alive, X-Private',
        'X-Private': 'secret',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        Upgrade: 'h2c',
        'X-Custom': 'kept',
        'X-Forwarded-For': '10.0.0.1',
      });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body) as Record<string, string>;
      assert.equal(seen['x-custom'], 'kept');
      assert.equal(seen['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
      assert.match(seen['host'] ?? '', /^127\.0\.0\.1:\d+$/);
      for (const h of ['x-private', 'keep-alive', 'proxy-connection', 'te', 'upgrade'])
        assert.equal(seen[h], undefined, h);
      // Our own pooled connection to the upstream.
      assert.equal(seen['connection'], 'keep-alive');

      const plain = JSON.parse((await get(url)).body) as Record<string, string>;
      assert.equal(plain['x-forwarded-for'], '127.0.0.1');
    },
  );
});

test('hop-by-hop response headers are dropped', { timeout: 10_000 }, async () => {
  await withProxy(
    (_req, res) => {
      res.writeHead(201, {
        Connection: 'X-Hop',
        'X-Hop': '1',
        'Keep-Alive': 'timeout=1',
        'X-End': 'kept',
        'Content-Type': 'text/plain',
      });
      res.end('made');
    },
    {},
    async (url) => {
      const r = await get(url);
      assert.equal(r.status, 201);
      assert.equal(r.body, 'made');
      assert.equal(r.headers['x-end'], 'kept');
      assert.equal(r.headers['x-hop'], undefined);
      // The upstream's keep-alive parameters are about its own connection, not the client's.
      assert.equal(r.headers['keep-alive'], undefined);
    },
  );
});

test('a request body is read whole before the upstream is contacted, then sent with its Content-Length', {
  timeout: 10_000,
}, async () => {
  const seen: { at: number; headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  await withProxy(
    (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ at: Date.now(), headers: req.headers, body });
        // The answer still streams back chunk by chunk.
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('got:');
        setTimeout(() => res.end(body), 20);
      });
    },
    {},
    async (url) => {
      let lastPartAt = 0;
      const text = await new Promise<string>((resolve, reject) => {
        const req = request(
          url,
          { method: 'POST', agent: false, headers: { 'Transfer-Encoding': 'chunked' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d));
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        req.write('one');
        setTimeout(() => {
          // Half a body is not a request: the upstream has seen nothing yet.
          if (seen.length !== 0) reject(new Error('the upstream saw a request before its body was complete'));
          lastPartAt = Date.now();
          req.end('two');
        }, 300);
      });
      assert.equal(text, 'got:onetwo');
      assert.equal(seen.length, 1);
      assert.ok(seen[0]!.at >= lastPartAt, 'sent upstream after the last part');
      assert.equal(seen[0]!.headers['content-length'], '6');
      assert.equal(seen[0]!.headers['transfer-encoding'], undefined);
    },
  );
});

test('a 4 MiB upload and download pass through intact', { timeout: 15_000 }, async () => {
  const payload = Buffer.alloc(4 * 1024 * 1024, 'abcdefgh');
  const digest = createHash('sha256').update(payload).digest('hex');
  await withProxy(
    (req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      req.on('end', () => {
        res.setHeader('X-Upload', `${size} ${hash.digest('hex')}`);
        res.end(payload);
      });
    },
    {},
    async (url) => {
      const r = await new Promise<{ header: string; size: number; digest: string }>((resolve, reject) => {
        const req = request(
          url,
          { method: 'PUT', agent: false, headers: { 'Content-Length': payload.length } },
          (res) => {
            const hash = createHash('sha256');
            let size = 0;
            res.on('data', (chunk: Buffer) => {
              hash.update(chunk);
              size += chunk.length;
            });
            res.on('end', () => resolve({ header: String(res.headers['x-upload']), size, digest: hash.digest('hex') }));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
      assert.equal(r.header, `${payload.length} ${digest}`);
      assert.equal(r.size, payload.length);
      assert.equal(r.digest, digest);
    },
  );
});

test('keepalive 0: Connection: close upstream, a new upstream connection per request', {
  timeout: 10_000,
}, async () => {
  const ports = new Set<number>();
  const connections: string[] = [];
  await withProxy(
    (req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      connections.push(String(req.headers.connection));
      res.end('ok');
    },
    { keepalive: 0 },
    async (url) => {
      for (let i = 0; i < 3; i++) assert.equal((await get(url)).status, 200);
    },
  );
  assert.equal(ports.size, 3);
  assert.deepEqual(connections, ['close', 'close', 'close']);
});

test('keepalive N: sequential requests reuse one upstream connection', { timeout: 10_000 }, async () => {
  const ports = new Set<number>();
  await withProxy(
    (req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      res.end('ok');
    },
    { keepalive: 4 },
    async (url) => {
      for (let i = 0; i < 3; i++) assert.equal((await get(url)).status, 200);
    },
  );
  assert.equal(ports.size, 1);
});

test('a client that leaves before the answer is logged as 499 and the upstream request is dropped', {
  timeout: 10_000,
}, async () => {
  let upstreamClosed = false;
  await withProxy(
    (req, res) => {
      res.on('close', () => (upstreamClosed = true));
      setTimeout(() => res.end('late'), 2000).unref();
      req.resume();
    },
    { readTimeoutMs: 5000 },
    async (url, proxy) => {
      const req = request(url, { agent: false });
      req.on('error', () => {});
      req.end();
      await new Promise((resolve) => setTimeout(resolve, 200));
      req.destroy();
      const line = await waitFor('the access line', async () => (await proxy.readAccessLog()).trim() || undefined, {
        timeoutMs: 3000,
      });
      const entry = parseAccessLogLine(line);
      assert.equal(entry?.status, 499);
      // nginx logs `upstream_status=-` here too: no upstream status was ever received.
      assert.deepEqual(entry?.attempts, []);
      // The time it waited for the upstream is logged all the same.
      assert.ok(Number(/ upstream_response_time=([\d.]+) /.exec(line)?.[1]) >= 0.15, line);
      await waitFor('the upstream request to be dropped', () => upstreamClosed, { timeoutMs: 3000 });
      assert.equal(await proxy.readErrorLog(), '');
    },
  );
});

test('close() removes the logs and the temp dir, and is idempotent', { timeout: 10_000 }, async () => {
  const proxy = await createProxy({ upstream: 'http://127.0.0.1:9' });
  assert.equal(proxy.kind, 'builtin');
  assert.equal(proxy.pid, process.pid);
  assert.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);
  assert.ok(existsSync(proxy.errorLogPath));
  await Promise.all([proxy.close(), proxy.close()]);
  assert.equal(existsSync(proxy.errorLogPath), false);
  assert.equal(existsSync(proxy.accessLogPath), false);
});

test('close() with requests in flight does not crash on their late log lines', { timeout: 10_000 }, async () => {
  const upstream = createServer((req) => req.resume()); // never answers
  const upstreamUrl = await listen(upstream);
  const proxy = await createProxy({ upstream: upstreamUrl, readTimeoutMs: 5000 });
  const pending = Array.from(
    { length: 3 },
    () =>
      new Promise<string>((resolve) => {
        request(proxy.url, { agent: false }, (res) => resolve(String(res.statusCode)))
          .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
          .end();
      }),
  );
  await waitFor(
    'the upstream to hold 3 requests',
    () => new Promise<boolean>((resolve) => upstream.getConnections((_e, n) => resolve(n === 3))),
    { timeoutMs: 3000 },
  );
  await proxy.close();
  assert.deepEqual(await Promise.all(pending), ['ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

test("errorLogLevel is a threshold like nginx's error_log level; a taken port is BG_ADDRESS_IN_USE", {
  timeout: 10_000,
}, async () => {
  const crit = await createProxy({ upstream: 'http://127.0.0.1:9', errorLogLevel: 'crit' });
  try {
    assert.equal((await get(crit.url)).status, 502);
    assert.equal(await crit.readErrorLog(), '', 'connection refused is [error], below crit');
    await assert.rejects(createProxy({ upstream: 'http://127.0.0.1:9', listenPort: crit.port }), {
      code: 'BG_ADDRESS_IN_USE',
    });
  } finally {
    await crit.close();
  }
});

test('a host name is resolved once at start: unknown is BG_BAD_OPTION, known is logged by address like nginx', {
  timeout: 10_000,
}, async () => {
  await assert.rejects(createProxy({ upstream: 'http://no-such-host.invalid:80' }), (err: unknown) => {
    assert.match(String((err as Error).message), /^upstream: host not found: "no-such-host\.invalid" \(ENOTFOUND\)$/);
    assert.equal((err as { code?: string }).code, 'BG_BAD_OPTION');
    return true;
  });
  const proxy = await createProxy({ upstream: 'http://localhost:9' });
  try {
    assert.equal(proxy.upstream, 'http://localhost:9');
    assert.equal((await get(proxy.url)).status, 502);
    assert.match(
      await proxy.readErrorLog(),
      /connect\(\) failed \(111: Connection refused\) .* upstream: "http:\/\/(127\.0\.0\.1|\[::1\]):9\/"/,
    );
  } finally {
    await proxy.close();
  }
});

test('a slow reader of 200,000 one-byte chunks: one drain listener per exchange, no MaxListenersExceededWarning', {
  timeout: 20_000,
}, async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  const CHUNKS = 200_000;
  // Raw, so every byte really is its own chunk on the wire.
  const upstream = createNetServer((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.end(`${'1\r\nx\r\n'.repeat(CHUNKS)}0\r\n\r\n`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const proxy = await createProxy({
    upstream: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
  });
  try {
    const body = await new Promise<number>((resolve, reject) => {
      request(`${proxy.url}/`, { agent: false }, (res) => {
        let size = 0;
        // Not reading for a while fills every buffer on the way; then read all of it.
        res.pause();
        setTimeout(() => res.resume(), 500);
        res.on('data', (d: Buffer) => (size += d.length));
        res.on('end', () => resolve(size));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(body, CHUNKS);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
