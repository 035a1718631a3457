/**
 * The built-in proxy's own upstream client (upstream-pool.ts): every way a response can be
 * framed (Content-Length, chunked, to the close, no body), heads and chunks split across reads,
 * interim 1xx answers, when a connection may be reused and when not, and the responses it
 * rejects with nginx's `upstream sent …` wording. Raw TCP upstreams write the exact bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { createProxy, normalizeErrorLogLine } from '../../src/proxy/index.js';
import { sleep } from '../../src/util/index.js';

interface Raw {
  url: string;
  /** Remote ports of the proxy's connections, one per accepted connection. */
  connections: number[];
  /** Request heads received, in order. */
  heads: string[];
  close(): Promise<void>;
}

/**
 * A raw upstream: `answer(n)` gives the bytes to write for the n-th request, as pieces written
 * 5 ms apart (so each is its own read on the proxy's side); `null` closes the connection (FIN).
 */
async function rawUpstream(answer: (n: number, head: string) => (string | null)[]): Promise<Raw> {
  const sockets = new Set<Socket>();
  const connections: number[] = [];
  const heads: string[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    connections.push(socket.remotePort ?? 0);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.setEncoding('latin1').on('data', async (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.slice(0, end);
      buffered = '';
      heads.push(head);
      for (const [i, piece] of answer(heads.length, head).entries()) {
        if (i > 0) await sleep(5);
        if (!socket.writable) return;
        if (piece === null) socket.end();
        else socket.write(piece, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    connections,
    heads,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Got {
  status: number;
  body: string;
  complete: boolean;
  headers: Record<string, string | string[] | undefined>;
}

function fetchOnce(url: string, method = 'GET'): Promise<Got | string> {
  return new Promise((resolve) => {
    request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1').on('data', (d: string) => (body += d));
      res.on('error', () => {});
      res.on('close', () =>
        resolve({ status: res.statusCode ?? 0, body, complete: res.complete, headers: res.headers }),
      );
    })
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
      .end();
  });
}

async function through(
  answer: Parameters<typeof rawUpstream>[0],
  drive: (proxyUrl: string, upstream: Raw) => Promise<void>,
  expectedErrorLines: string[] = [],
): Promise<void> {
  const upstream = await rawUpstream(answer);
  const proxy = await createProxy({ upstream: upstream.url, keepalive: 4, readTimeoutMs: 2000 });
  try {
    await drive(proxy.url, upstream);
    const lines = (await proxy.readErrorLog())
      .split('\n')
      .filter(Boolean)
      .map((l) => normalizeErrorLogLine(l));
    assert.deepEqual(lines, expectedErrorLines, 'error log');
  } finally {
    await proxy.close();
    await upstream.close();
  }
}

const tail = (method = 'GET'): string =>
  `, client: 127.0.0.1, server: localhost, request: "${method} / HTTP/1.1", upstream: "http://127.0.0.1:PORT/", host: "127.0.0.1:PORT"`;

test('a chunked response split byte-wise, with extensions and trailers, arrives whole and the connection is reused', {
  timeout: 10_000,
}, async () => {
  const response =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n';
  await through(
    (n) => (n === 1 ? [...response] : [response]),
    async (url, upstream) => {
      const first = await fetchOnce(url);
      const second = await fetchOnce(url);
      for (const got of [first, second]) {
        assert.ok(typeof got === 'object');
        assert.equal(got.status, 200);
        assert.equal(got.body, 'hello, world!!!');
        assert.equal(got.complete, true);
        assert.equal(got.headers['x-a'], '1');
      }
      assert.equal(upstream.connections.length, 1, 'one upstream connection for both');
    },
  );
});

test('a body framed by the close (HTTP/1.0, no length) ends at the FIN; that connection is not reused', {
  timeout: 10_000,
}, async () => {
  await through(
    () => ['HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ', 'part two', null],
    async (url, upstream) => {
      for (let i = 0; i < 2; i++) {
        const got = await fetchOnce(url);
        assert.ok(typeof got === 'object');
        assert.equal(got.status, 200);
        assert.equal(got.body, 'part one, part two');
        assert.equal(got.complete, true);
      }
      assert.equal(upstream.connections.length, 2);
    },
  );
});

test('HEAD, 204 and 304 carry no body even with a Content-Length; the connection serves the next request', {
  timeout: 10_000,
}, async () => {
  await through(
    (n) => [
      n === 1
        ? 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n'
        : n === 2
          ? 'HTTP/1.1 204 No Content\r\n\r\n'
          : n === 3
            ? 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n'
            : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    ],
    async (url, upstream) => {
      const head = await fetchOnce(url, 'HEAD');
      assert.ok(typeof head === 'object');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '50');
      assert.equal(await fetchOnce(url).then((g) => (typeof g === 'object' ? g.status : g)), 204);
      assert.equal(await fetchOnce(url).then((g) => (typeof g === 'object' ? g.status : g)), 304);
      const last = await fetchOnce(url);
      assert.ok(typeof last === 'object');
      assert.equal(last.body, 'ok');
      assert.equal(upstream.connections.length, 1);
    },
  );
});

test('interim 100 and 103 answers are skipped; a head split across reads is reassembled', {
  timeout: 10_000,
}, async () => {
  await through(
    () => [
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Cre',
      'ated\r\nContent-Le',
      'ngth: 4\r\n\r\n',
      'done',
    ],
    async (url) => {
      const got = await fetchOnce(url);
      assert.ok(typeof got === 'object');
      assert.equal(got.status, 201);
      assert.equal(got.body, 'done');
      assert.equal(got.headers['link'], undefined);
    },
  );
});

test('bytes after a complete response make the connection unusable: the next request gets a new one', {
  timeout: 10_000,
}, async () => {
  await through(
    () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE'],
    async (url, upstream) => {
      for (let i = 0; i < 2; i++) {
        const got = await fetchOnce(url);
        assert.ok(typeof got === 'object');
        assert.equal(got.body, 'ok');
      }
      assert.equal(upstream.connections.length, 2);
    },
  );
});

test('an upstream Connection: close answer is not reused; the request carried Connection: keep-alive and X-Forwarded-For', {
  timeout: 10_000,
}, async () => {
  await through(
    () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'],
    async (url, upstream) => {
      for (let i = 0; i < 2; i++) assert.equal(((await fetchOnce(url)) as Got).body, 'ok');
      assert.equal(upstream.connections.length, 2);
      assert.match(upstream.heads[0]!, /^GET \/ HTTP\/1\.1\r\n/);
      assert.match(upstream.heads[0]!, /\r\nX-Forwarded-For: 127\.0\.0\.1\r\nConnection: keep-alive$/);
    },
  );
});

test('a response that is not HTTP is a 502: upstream sent no valid HTTP/1.0 header', { timeout: 10_000 }, async () => {
  await through(
    () => ['SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    async (url) => assert.equal(((await fetchOnce(url)) as Got).status, 502),
    [`[error] upstream sent no valid HTTP/1.0 header while reading response header from upstream${tail()}`],
  );
});

test('a malformed header line, a control byte in a value and a head over 16 KiB are 502s in nginx words', {
  timeout: 10_000,
}, async () => {
  const answers = [
    'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\n\r\n',
    `HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(17 * 1024)}\r\n\r\n`,
  ];
  await through(
    (n) => [answers[n - 1] ?? ''],
    async (url) => {
      for (let i = 0; i < 3; i++) assert.equal(((await fetchOnce(url)) as Got).status, 502);
    },
    [
      `[error] upstream sent invalid header while reading response header from upstream${tail()}`,
      `[error] upstream sent invalid header while reading response header from upstream${tail()}`,
      `[error] upstream sent too big header while reading response header from upstream${tail()}`,
    ],
  );
});

test('Transfer-Encoding and Content-Length together: the chunked body wins, the length is not passed on', {
  timeout: 10_000,
}, async () => {
  await through(
    () => ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    async (url, upstream) => {
      for (let i = 0; i < 2; i++) {
        const got = (await fetchOnce(url)) as Got;
        assert.equal(got.body, 'ok');
        assert.equal(got.complete, true);
        assert.equal(got.headers['content-length'], undefined);
      }
      assert.equal(upstream.connections.length, 2, 'never reused');
    },
  );
});

test('broken chunked coding cuts the client off mid-body: upstream sent invalid chunked response', {
  timeout: 10_000,
}, async () => {
  await through(
    () => ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n'],
    async (url) => {
      const got = await fetchOnce(url);
      assert.ok(typeof got === 'object');
      assert.equal(got.status, 200);
      assert.equal(got.complete, false);
    },
    [`[error] upstream sent invalid chunked response while reading upstream${tail()}`],
  );
});
