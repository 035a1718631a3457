import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { createTempDir } from '../../src/util/index.js';
import { decodeHeader, decodeResult, runLoad, type LoadResult } from '../../src/load/index.js';
import { closedPort, startChildServer, startServer } from './servers.js';

const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);

/** The records of a result file, after its header line (which must be there). */
function readNdjson(path: string): LoadResult[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  assert.ok(decodeHeader(header!), `header line: ${header}`);
  return lines.map((line) => decodeResult(line)!);
}

for (const engine of ['raw', 'undici'] as const) {
  test(`${engine}: a server answering a known mix of statuses is counted exactly`, { timeout: 15_000 }, async () => {
    // By request counter: every 10th is a 500, the one after it a 404, the rest 200; all bodies "ok".
    const server = await startServer((_req, res, n) => {
      res.statusCode = n % 10 === 0 ? 500 : n % 10 === 1 ? 404 : 200;
      res.end('ok');
    });
    const dir = await createTempDir('load');
    try {
      const m = await runLoad({
        engine,
        url: server.url,
        rate: 200,
        durationMs: 1000,
        resultsPath: dir.file('r.ndjson'),
      });
      assert.equal(m.requests, 200);
      assert.deepEqual(m.statusCodes, { '200': 160, '404': 20, '500': 20 });
      assert.deepEqual(m.errors, {});
      assert.equal(m.success, 160);
      assert.equal(m.successRatio, 0.8);
      assert.equal(m.bytesIn, 400);
      assert.equal(m.bytesOut, 0);
      assert.equal(m.rate.asked, 200);
      assert.equal(m.unsent, 0);
      assert.equal(m.interrupted, false);
      assert.equal(server.requests, 200);
      // Timeline: 1 s buckets by send time, together exactly the run.
      assert.equal(m.bucketMs, 1000);
      assert.equal(
        m.timeline.reduce((a, b) => a + b.sent, 0),
        200,
      );
      assert.equal(
        m.timeline.reduce((a, b) => a + sum(b.statusCodes), 0),
        200,
      );
      const results = readNdjson(dir.file('r.ndjson'));
      assert.equal(results.length, 200);
      assert.deepEqual(
        results.map((r) => r.seq).sort((a, b) => a - b),
        Array.from({ length: 200 }, (_, i) => i),
      );
      // Due times are the pacer's: i / rate.
      for (const r of results) assert.equal(r.dueMs, r.seq * 5);
    } finally {
      await dir.close();
      await server.close();
    }
  });

  test(`${engine}: --no-keepalive opens a new TCP connection for every request; keep-alive reuses them`, {
    timeout: 15_000,
  }, async () => {
    const server = await startServer((_req, res) => res.end('ok'));
    try {
      const off = await runLoad({ engine, url: server.url, rate: 100, durationMs: 500, keepAlive: false });
      assert.equal(off.requests, 50);
      assert.deepEqual(off.statusCodes, { '200': 50 });
      assert.equal(server.connections, 50);
      const before = server.connections;
      const on = await runLoad({
        engine,
        url: server.url,
        rate: 100,
        durationMs: 500,
        keepAlive: true,
        connections: 2,
      });
      assert.deepEqual(on.statusCodes, { '200': 50 });
      assert.ok(server.connections - before <= 2, `keep-alive used ${server.connections - before} connections`);
    } finally {
      await server.close();
    }
  });

  test(`${engine}: refused connections count as ECONNREFUSED, a reset as ECONNRESET, a close as CLOSED`, {
    timeout: 15_000,
  }, async () => {
    const port = await closedPort();
    const refused = await runLoad({ engine, url: `http://127.0.0.1:${port}/`, rate: 100, durationMs: 300 });
    assert.equal(refused.requests, 30);
    assert.deepEqual(refused.errors, { ECONNREFUSED: 30 });
    assert.deepEqual(refused.statusCodes, {});
    assert.equal(refused.success, 0);

    // Even requests: RST (what a process out of fds or a crashing worker does); odd: FIN before any response.
    const server = await startServer((req, _res, n) => {
      if (n % 2 === 0) req.socket.resetAndDestroy();
      else req.socket.destroy();
    });
    try {
      const m = await runLoad({ engine, url: server.url, rate: 100, durationMs: 200 });
      assert.equal(m.requests, 20);
      assert.deepEqual(m.errors, { ECONNRESET: 10, CLOSED: 10 });
    } finally {
      await server.close();
    }
  });

  test(`${engine}: a request without an answer within timeoutMs counts as TIMEOUT`, { timeout: 15_000 }, async () => {
    const server = await startServer(() => {});
    try {
      const m = await runLoad({ engine, url: server.url, rate: 50, durationMs: 200, timeoutMs: 300 });
      assert.equal(m.requests, 10);
      assert.deepEqual(m.errors, { TIMEOUT: 10 });
      // Latency of a timeout is the deadline (plus the sweeper's granularity), never less.
      assert.ok(m.latenciesMs.min >= 300, `min ${m.latenciesMs.min}`);
    } finally {
      await server.close();
    }
  });

  test(`${engine}: a missing unix socket counts as ENOENT (errors are data in the library)`, {
    timeout: 10_000,
  }, async () => {
    const dir = await createTempDir('load');
    try {
      const m = await runLoad({
        engine,
        url: 'http://localhost/',
        unixSocket: dir.file('gone.sock'),
        rate: 100,
        durationMs: 100,
      });
      assert.deepEqual(m.errors, { ENOENT: 10 });
    } finally {
      await dir.close();
    }
  });

  test(`${engine}: requests still in flight at an abort count as CANCELED after drainMs`, {
    timeout: 10_000,
  }, async () => {
    const server = await startServer(() => {});
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const m = await runLoad({
        engine,
        url: server.url,
        rate: 50,
        durationMs: 5000,
        timeoutMs: 10_000,
        drainMs: 100,
        signal: controller.signal,
      });
      assert.ok(m.requests >= 5);
      assert.deepEqual(m.errors, { CANCELED: m.requests });
    } finally {
      await server.close();
    }
  });

  test(`${engine}: closed loop (rate 0) with maxRequests sends exactly that many over N connections`, {
    timeout: 10_000,
  }, async () => {
    const server = await startServer((_req, res) => res.end('ok'));
    try {
      const m = await runLoad({
        engine,
        url: server.url,
        rate: 0,
        durationMs: 60_000,
        maxRequests: 500,
        connections: 4,
      });
      assert.equal(m.requests, 500);
      assert.deepEqual(m.statusCodes, { '200': 500 });
      assert.equal(m.rate.asked, 0);
      assert.ok(server.connections <= 4);
    } finally {
      await server.close();
    }
  });

  test(`${engine}: several targets are used round-robin with their method, headers and body`, {
    timeout: 10_000,
  }, async () => {
    const seen: string[] = [];
    const server = await startServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['x-k'] ?? ''} ${body}`);
        res.end(body);
      });
    });
    try {
      const m = await runLoad({
        engine,
        targets: [
          { method: 'GET', url: `${server.url}a`, headers: { 'x-k': '1' } },
          { method: 'POST', url: `${server.url}b?q=1`, headers: {}, body: 'hello' },
        ],
        rate: 100,
        durationMs: 200,
      });
      assert.equal(m.requests, 20);
      assert.equal(m.bytesOut, 50);
      assert.equal(m.bytesIn, 50);
      assert.equal(seen.filter((s) => s === 'GET /a 1 ').length, 10);
      assert.equal(seen.filter((s) => s === 'POST /b?q=1  hello').length, 10);
    } finally {
      await server.close();
    }
  });
}

test('a server stalled for 1 s shows the stall in the corrected p99 while requests are sent on schedule', {
  timeout: 20_000,
}, async () => {
  // The stall is in a child process: the test's own loop (the sender) must stay free.
  const server = await startChildServer(`
    let n = 0;
    const s = require('http').createServer((req, res) => {
      if (++n === 40) { const t = Date.now(); while (Date.now() - t < 1000) {} }
      res.end('ok');
    });
    s.listen(0, '127.0.0.1', () => console.log('listening ' + s.address().port));
  `);
  const dir = await createTempDir('load');
  try {
    const m = await runLoad({
      url: `http://127.0.0.1:${server.address}/`,
      rate: 100,
      durationMs: 2000,
      connections: 500,
      resultsPath: dir.file('r.ndjson'),
    });
    assert.equal(m.requests, 200);
    assert.deepEqual(m.statusCodes, { '200': 200 });
    // ~100 requests were due during the stall: the 99th percentile is the stall.
    assert.ok(m.latenciesMs.p99 >= 800, `p99 ${m.latenciesMs.p99}`);
    assert.ok(m.latenciesMs.max >= 950, `max ${m.latenciesMs.max}`);
    // Sent on schedule: the pacer did not wait for the stalled server.
    const results = readNdjson(dir.file('r.ndjson'));
    const stalled = results.filter((r) => r.latencyMs > 500);
    assert.ok(stalled.length >= 50, `${stalled.length} requests saw the stall`);
    // A closed-loop sender would have held them back until the stall ended (lags up to 1 s);
    // the bound leaves room for a busy machine.
    for (const r of results) assert.ok(r.sentMs - r.dueMs < 500, `request ${r.seq} sent ${r.sentMs - r.dueMs} ms late`);
  } finally {
    await dir.close();
    await server.close();
  }
});

test('a unix socket with a full backlog (2) and a blocked server: EAGAIN counted, every request accounted for', {
  timeout: 20_000,
}, async () => {
  const dir = await createTempDir('load');
  const path = dir.file('app.sock');
  // Seed 3 without a proxy: a sync server blocks on its first request; connects beyond the
  // backlog fail at once with EAGAIN.
  const server = await startChildServer(`
    let first = true;
    const s = require('http').createServer((req, res) => {
      if (first) { first = false; const t = Date.now(); while (Date.now() - t < 1500) {} }
      res.end('ok');
    });
    s.listen({ path: ${JSON.stringify(path)}, backlog: 2 }, () => console.log('listening ' + ${JSON.stringify(path)}));
  `);
  try {
    const m = await runLoad({
      url: 'http://localhost/',
      unixSocket: path,
      rate: 200,
      durationMs: 1000,
      keepAlive: false,
      connections: 200,
    });
    assert.equal(m.requests, 200);
    assert.equal(sum(m.statusCodes) + sum(m.errors), 200);
    assert.deepEqual(Object.keys(m.errors), ['EAGAIN']);
    assert.ok(m.errors['EAGAIN']! >= 150, `EAGAIN ${m.errors['EAGAIN']}`);
    assert.ok((m.statusCodes['200'] ?? 0) >= 1);
  } finally {
    await server.close();
    await dir.close();
  }
});

test('an aborted signal stops sending and resolves with what was sent', { timeout: 10_000 }, async () => {
  const controller = new AbortController();
  // Abort from the server on its 10th request: no timing assumptions on a busy machine.
  const server = await startServer((_req, res, n) => {
    if (n === 9) controller.abort();
    res.end('ok');
  });
  try {
    const started = Date.now();
    const m = await runLoad({ url: server.url, rate: 100, durationMs: 5000, signal: controller.signal });
    assert.ok(Date.now() - started < 4000);
    assert.equal(m.interrupted, true);
    assert.ok(m.requests >= 10 && m.requests < 100, `${m.requests} requests`);
    assert.equal(m.statusCodes['200'], m.requests);
    assert.equal(server.requests, m.requests);
  } finally {
    await server.close();
  }
});

test('every result is published on the badgateway:load:result diagnostics channel', { timeout: 10_000 }, async () => {
  const server = await startServer((_req, res) => res.end('ok'));
  const seen: number[] = [];
  const onMessage = (message: unknown): void => {
    seen.push((message as LoadResult).seq);
  };
  subscribe('badgateway:load:result', onMessage);
  try {
    await runLoad({ url: server.url, rate: 100, durationMs: 100 });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  } finally {
    unsubscribe('badgateway:load:result', onMessage);
    await server.close();
  }
});

test('bad options throw BG_BAD_OPTION naming the option', async () => {
  await assert.rejects(runLoad({ url: 'not a url' }), { code: 'BG_BAD_OPTION', message: /url/ });
  await assert.rejects(runLoad({ url: 'http://127.0.0.1/', rate: -1 }), { code: 'BG_BAD_OPTION', message: /rate/ });
  await assert.rejects(runLoad({ url: 'http://127.0.0.1/', durationMs: 0 }), {
    code: 'BG_BAD_OPTION',
    message: /durationMs/,
  });
  await assert.rejects(runLoad({ url: 'http://127.0.0.1/', rate: Number.NaN }), {
    code: 'BG_BAD_OPTION',
    message: /rate/,
  });
});
