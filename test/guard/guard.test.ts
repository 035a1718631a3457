import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as promClient from 'prom-client';
import { createTempDir, waitFor } from '../../src/util/index.js';
import {
  checkServerTimeouts,
  createGuard,
  GUARD_DEFAULTS,
  GUARD_METRIC_NAMES,
  hardenServer,
  registerGuardMetrics,
  resolveGuardOptions,
  SHED_REASONS,
  TIMEOUT_WARNINGS,
  type ShedReason,
  type TimeoutWarning,
} from '../../src/guard/index.js';
import { get, KEEPALIVE_GET, rawClient, type RawClient } from './helpers.js';

const busyWait = (ms: number): void => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // block the loop
  }
};

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('resolveGuardOptions: defaults in one object, bad values named', () => {
  const { onShed, skip, onError, ...rest } = resolveGuardOptions();
  assert.equal(onShed, undefined);
  assert.equal(skip, undefined);
  assert.equal(onError, undefined);
  assert.deepEqual(rest, {
    maxFdRatio: 0.9,
    maxConcurrency: 0,
    maxEventLoopDelayMs: 0,
    maxHeapUsedRatio: 0,
    reapFdRatio: 0.8,
    sampleIntervalMs: 250,
    retryAfterS: 5,
    procDir: '/proc/self',
  });
  assert.equal(resolveGuardOptions({ maxFdRatio: undefined }).maxFdRatio, GUARD_DEFAULTS.maxFdRatio);
  assert.throws(() => resolveGuardOptions({ maxFdRatio: 1.5 }), {
    code: 'BG_BAD_OPTION',
    message: 'maxFdRatio: 1.5 is not valid (expected a ratio from 0 to 1, 0 = off)',
  });
  assert.throws(() => resolveGuardOptions({ maxConcurrency: -1 }), {
    code: 'BG_BAD_OPTION',
    message: /^maxConcurrency: -1 /,
  });
  assert.throws(() => resolveGuardOptions({ sampleIntervalMs: 0 }), {
    code: 'BG_BAD_OPTION',
    message: /^sampleIntervalMs: 0 .*≥ 10/,
  });
  assert.throws(() => resolveGuardOptions({ onShed: 'x' as never }), {
    code: 'BG_BAD_OPTION',
    message: /^onShed: "string"/,
  });
});

test('metrics: fds and limit read from /proc/self at start', () => {
  const guard = createGuard();
  try {
    const m = guard.metrics();
    const soft = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))![1];
    assert.equal(m.fdsLimit, Number(soft));
    const open = readdirSync('/proc/self/fd').length - 1;
    assert.ok(Math.abs(m.fdsOpen! - open) <= 2, `${m.fdsOpen} vs ${open}`);
    assert.deepEqual(m.shedTotal, { fds: 0, concurrency: 0, eventLoopDelay: 0, heapUsed: 0 });
    assert.equal(guard.evaluate(), undefined);
  } finally {
    guard.close();
  }
});

test('sample(): the fd count follows opens and closes exactly, from /proc (st_size on Linux 6.2+) and from a listed stand-in dir', {
  timeout: 10_000,
}, async () => {
  const guard = createGuard({ sampleIntervalMs: 60_000 });
  const fds: number[] = [];
  try {
    await guard.sample();
    const before = guard.metrics().fdsOpen!;
    for (let i = 0; i < 300; i++) fds.push(openSync('/dev/null', 'r'));
    await guard.sample();
    assert.equal(guard.metrics().fdsOpen, before + 300);
    assert.equal(guard.metrics().fdsOpen, readdirSync('/proc/self/fd').length - 1);
    for (const fd of fds.splice(0, 100)) closeSync(fd);
    await guard.sample();
    assert.equal(guard.metrics().fdsOpen, before + 200);
  } finally {
    for (const fd of fds) closeSync(fd);
    guard.close();
  }
  // A directory that is not procfs: its st_size is bytes, so its entries are counted instead.
  await using dir = await createTempDir('guard');
  mkdirSync(dir.file('fd'));
  for (let i = 0; i < 41; i++) writeFileSync(dir.file(`fd/${i}`), ''); // 41 entries = 40 + readdir's own
  writeFileSync(dir.file('limits'), 'Max open files            100                  100                  files\n');
  const standIn = createGuard({ procDir: dir.path, sampleIntervalMs: 60_000 });
  try {
    assert.equal(standIn.metrics().fdsOpen, 40);
    writeFileSync(dir.file('fd/41'), '');
    await standIn.sample();
    assert.equal(standIn.metrics().fdsOpen, 41);
  } finally {
    standIn.close();
  }
});

test('fd rule: protect() sheds with 503 before the app runs, onShed gets reason and request, skip exempts', {
  timeout: 10_000,
}, async () => {
  const shed: Array<[ShedReason, string | undefined]> = [];
  const guard = createGuard({
    maxFdRatio: 1e-9, // any open fd is over it
    retryAfterS: 7,
    onShed: (reason, req) => shed.push([reason, req.url]),
    skip: (req) => req.url === '/health',
  });
  let appCalls = 0;
  const server = createServer((_req, res) => {
    appCalls += 1;
    res.end('app');
  });
  server.on('request', () => (appCalls += 100)); // a second listener: protect() keeps both
  guard.protect(server);
  const url = await listen(server);
  try {
    const r = await get(`${url}/x`);
    assert.equal(r.status, 503);
    assert.equal(r.headers!['retry-after'], '7');
    assert.equal(r.headers!.connection, 'close');
    assert.equal(r.body, 'Service Unavailable (overloaded: fds)\n');
    assert.equal(appCalls, 0);
    assert.deepEqual(shed, [[SHED_REASONS.FDS, '/x']]);
    const health = await get(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(appCalls, 101);
    assert.equal(guard.metrics().shedTotal.fds, 1);
    assert.equal(guard.metrics().admittedTotal, 1);
  } finally {
    server.close();
    guard.close();
  }
});

test('a skip that throws never crashes the host: the request is shed as usual, onError gets the error once', {
  timeout: 10_000,
}, async () => {
  const errors: Array<[string, string]> = [];
  const guard = createGuard({
    maxFdRatio: 1e-9, // shedding everything
    // The README's kind of skip: decodeURIComponent throws a URIError on `/%zz`.
    skip: (req) => decodeURIComponent(req.url ?? '') === '/health',
    onShed: () => {
      throw new Error('onShed broke');
    },
    onError: (error, hook) => errors.push([hook, (error as Error).name]),
  });
  const server = createServer((_req, res) => res.end('app'));
  guard.protect(server);
  const url = await listen(server);
  try {
    const bad = await get(`${url}/%zz`);
    assert.equal(bad.status, 503, 'not skipped: shed');
    assert.deepEqual(errors, [
      ['skip', 'URIError'],
      ['onShed', 'Error'],
    ]);
    assert.equal((await get(`${url}/health`)).status, 200, 'the skip still works for good requests');
    assert.equal(guard.metrics().shedTotal.fds, 1);
  } finally {
    server.close();
    guard.close();
  }
});

test('without onError, a throwing skip is one process warning, not one per request', { timeout: 10_000 }, async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => {
    if (w.code === 'BG_GUARD_HOOK_ERROR') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  const guard = createGuard({ maxConcurrency: 1, skip: () => JSON.parse('{') as boolean });
  const server = createServer((_req, res) => setTimeout(() => res.end('app'), 100));
  guard.protect(server);
  const url = await listen(server);
  try {
    const results = await Promise.all([get(`${url}/a`), get(`${url}/b`), get(`${url}/c`)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 503, 503]);
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^badgateway\/guard: skip threw \(.*JSON.*\); the request was treated as not skipped/);
  } finally {
    process.off('warning', onWarning);
    server.close();
    guard.close();
  }
});

test('wrap(): concurrency rule counts in-flight requests until the response closes', { timeout: 10_000 }, async () => {
  const guard = createGuard({ maxConcurrency: 2 });
  const held: Array<() => void> = [];
  const server = createServer(
    guard.wrap((req, res) => {
      if (req.url === '/hold') held.push(() => res.end('held'));
      else res.end('ok');
    }),
  );
  const url = await listen(server);
  try {
    const a = get(`${url}/hold`);
    const b = get(`${url}/hold`);
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(guard.metrics().inflight, 2);
    assert.equal((await get(url)).body, 'Service Unavailable (overloaded: concurrency)\n');
    held.shift()!();
    assert.equal((await a).body, 'held');
    assert.equal((await get(url)).body, 'ok');
    held.shift()!();
    await b;
    assert.equal(guard.metrics().inflight, 0);
    assert.equal(guard.metrics().shedTotal.concurrency, 1);
  } finally {
    server.close();
    guard.close();
  }
});

test('event-loop rule: a blocked loop is seen in the next timers phase, before queued I/O, and clears after', {
  timeout: 10_000,
}, async () => {
  const guard = createGuard({ maxEventLoopDelayMs: 100, sampleIntervalMs: 50, maxFdRatio: 0 });
  try {
    assert.equal(guard.evaluate(), undefined);
    busyWait(300);
    // The overdue sampler tick runs first in the next timers phase (it has the earliest due
    // time); requests queued during the block are read in the poll phase after it.
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(guard.evaluate(), SHED_REASONS.EVENT_LOOP_DELAY);
    assert.ok(guard.metrics().eventLoopDelayMs >= 250, String(guard.metrics().eventLoopDelayMs));
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(guard.evaluate(), undefined);
  } finally {
    guard.close();
  }
});

test('heap rule: sheds when used/limit reaches the ratio; a closed guard admits everything', async () => {
  const guard = createGuard({ maxHeapUsedRatio: 1e-9, maxFdRatio: 0 });
  try {
    assert.equal(guard.evaluate(), SHED_REASONS.HEAP_USED);
    assert.ok(guard.metrics().heapUsedBytes > 0);
  } finally {
    guard.close();
  }
  assert.equal(guard.evaluate(), undefined);
});

test('no /proc (macOS): fd rules off with one debug line, other rules still work', { timeout: 10_000 }, async () => {
  const guard = createGuard({ procDir: '/nonexistent/proc', maxFdRatio: 1e-9, maxConcurrency: 1 });
  try {
    await guard.sample();
    assert.equal(guard.evaluate(), undefined);
    const m = guard.metrics();
    assert.equal(m.fdsOpen, null);
    assert.equal(m.fdsLimit, null);
    assert.equal(guard.admit({ headers: {} }), undefined);
    assert.equal(guard.admit({ headers: {} }), SHED_REASONS.CONCURRENCY);
    guard.release();
  } finally {
    guard.close();
  }
  // The debug line, once, with NODE_DEBUG=badgateway in a child (debuglog reads it at start).
  const index = fileURLToPath(new URL('../../src/guard/index.js', import.meta.url));
  const script = `const { createGuard } = await import(${JSON.stringify(index)});
    const g = createGuard({ procDir: '/nonexistent/proc' }); await g.sample(); await g.sample(); g.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_DEBUG: 'badgateway' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number];
  assert.equal(code, 0, stderr);
  const lines = stderr.split('\n').filter((l) => l.includes('fd rules off'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /BADGATEWAY \d+: guard: fd rules off: cannot read \/nonexistent\/proc\/fd \(ENOENT/);
});

test('reaper: closes kept-alive idle sockets oldest first when the fd estimate crosses reapFdRatio, never a busy one', {
  timeout: 10_000,
}, async () => {
  // A stand-in /proc/self with 75 of 100 fds in use: exact numbers in-process. The real /proc
  // case is in reliability.test.ts.
  const dir = await createTempDir('bg-guard-');
  mkdirSync(dir.file('fd'));
  for (let i = 0; i < 76; i++) writeFileSync(dir.file(`fd/${i}`), ''); // 76 entries = 75 + readdir's own
  writeFileSync(
    dir.file('limits'),
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            100                  100                  files\n',
  );
  const guard = createGuard({ procDir: dir.path, reapFdRatio: 0.8, maxFdRatio: 0.95, sampleIntervalMs: 60_000 });
  let holding = false;
  const server = createServer((req, res) => {
    if (req.url === '/hold')
      holding = true; // never answered: busy until the client goes
    else res.end('ok');
  });
  server.keepAliveTimeout = 0; // the leak
  guard.protect(server);
  const url = await listen(server);
  const port = Number(new URL(url).port);
  const hold = rawClient(port, 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
  const clients: RawClient[] = [];
  try {
    assert.equal(guard.metrics().fdsOpen, 75);
    while (!holding) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 8; i++) {
      const c = rawClient(port, KEEPALIVE_GET);
      clients.push(c);
      while (!c.received().endsWith('ok')) await new Promise((r) => setTimeout(r, 2));
    }
    // 75 + /hold + clients 1–3 = 79; client 4 makes 80 ≥ 0.8 × 100: the idle ones before it go
    // (clients 1–3; /hold is older but busy) → 77. Clients 5, 6 → 79; client 7 → 80: clients
    // 4–6 go → 77; client 8 → 78.
    // The reaper closed them at accept time; the clients see it when the close reaches them.
    await waitFor(
      'six reaped clients to see their close',
      () => clients.filter((c) => c.socket.destroyed).length >= 6,
      { intervalMs: 5 },
    );
    assert.equal(hold.socket.destroyed, false);
    assert.deepEqual(
      clients.map((c) => c.socket.destroyed),
      [true, true, true, true, true, true, false, false],
    );
    const m = guard.metrics();
    assert.equal(m.reapedTotal, 6);
    assert.equal(m.fdsOpen, 78);
    assert.deepEqual(m.sockets, { tracked: 3, idle: 2 });
  } finally {
    hold.socket.destroy();
    for (const c of clients) c.socket.destroy();
    server.close();
    guard.close();
    dir.closeSync();
  }
});

test('hardenServer: keepAlive above the proxy idle timeout, headers above keepAlive, no warnings', () => {
  const server = createServer();
  const result = hardenServer(server, { proxyIdleTimeoutMs: 60_000 });
  assert.deepEqual(result, {
    keepAliveTimeoutMs: 61_000,
    headersTimeoutMs: 62_000,
    requestTimeoutMs: 300_000,
    warnings: [],
  });
  assert.equal(server.keepAliveTimeout, 61_000);
  assert.equal(server.headersTimeout, 62_000);
  assert.equal(server.requestTimeout, 300_000);
  const short = hardenServer(createServer(), { proxyIdleTimeoutMs: 500 });
  assert.deepEqual(short, {
    keepAliveTimeoutMs: 1500,
    headersTimeoutMs: 2500,
    requestTimeoutMs: 300_000,
    warnings: [],
  });
});

test('hardenServer warns about the keep-alive race and leak (onWarning, or process warnings)', async () => {
  const seen: TimeoutWarning[] = [];
  const race = hardenServer(createServer(), {
    proxyIdleTimeoutMs: 60_000,
    keepAliveTimeoutMs: 5000,
    onWarning: (w) => seen.push(w),
  });
  assert.deepEqual(
    race.warnings.map((w) => w.code),
    [TIMEOUT_WARNINGS.KEEPALIVE_RACE],
  );
  assert.deepEqual(seen, race.warnings);
  assert.match(seen[0]!.message, /^keepAliveTimeout 5000 ms ≤ proxy idle timeout 60000 ms/);

  const warned = once(process, 'warning') as Promise<[Error & { code: string }]>;
  const leak = hardenServer(createServer(), { keepAliveTimeoutMs: 0 });
  assert.deepEqual(
    leak.warnings.map((w) => w.code),
    [TIMEOUT_WARNINGS.KEEPALIVE_LEAK],
  );
  const [warning] = await warned;
  assert.equal(warning.code, 'BG_GUARD_KEEPALIVE_LEAK');
});

test('checkServerTimeouts: Node defaults behind a 60 s proxy are the race', () => {
  const node = createServer();
  const timeouts = {
    keepAliveTimeoutMs: node.keepAliveTimeout,
    headersTimeoutMs: node.headersTimeout,
    requestTimeoutMs: node.requestTimeout,
  };
  assert.deepEqual(timeouts, { keepAliveTimeoutMs: 5000, headersTimeoutMs: 60_000, requestTimeoutMs: 300_000 });
  assert.deepEqual(
    checkServerTimeouts(timeouts, { proxyIdleTimeoutMs: 60_000 }).map((w) => w.code),
    ['BG_GUARD_KEEPALIVE_RACE'],
  );
  assert.deepEqual(checkServerTimeouts(timeouts, { proxyIdleTimeoutMs: 4000 }), []);
  assert.deepEqual(
    checkServerTimeouts({ keepAliveTimeoutMs: 65_000, headersTimeoutMs: 60_000, requestTimeoutMs: 0 }).map(
      (w) => w.code,
    ),
    ['BG_GUARD_HEADERS_TIMEOUT', 'BG_GUARD_REQUEST_TIMEOUT'],
  );
});

test('prom-client collector: registry output has every metric with current values', async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  try {
    const registry = new promClient.Registry();
    registerGuardMetrics(guard, promClient, { registry });
    assert.equal(guard.admit({ headers: {} }), undefined);
    assert.equal(guard.admit({ headers: {} }), SHED_REASONS.CONCURRENCY);
    assert.equal(guard.admit({ headers: {} }), SHED_REASONS.CONCURRENCY);
    const text = await registry.metrics();
    for (const name of GUARD_METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    const m = guard.metrics();
    assert.match(text, /^badgateway_guard_requests_shed_total\{reason="concurrency"\} 2$/m);
    assert.match(text, /^badgateway_guard_requests_shed_total\{reason="fds"\} 0$/m);
    assert.match(text, /^badgateway_guard_requests_admitted_total 1$/m);
    assert.match(text, /^badgateway_guard_inflight_requests 1$/m);
    // The names doctor uses for the same facts of a process it inspects.
    assert.match(text, new RegExp(`^badgateway_process_max_fds ${m.fdsLimit}$`, 'm'));
    assert.match(text, /^badgateway_process_open_fds \d+$/m);
    assert.match(text, /^badgateway_guard_reaped_connections_total 0$/m);
    assert.match(text, /^# TYPE badgateway_guard_requests_shed_total counter$/m);
    assert.match(text, /^# TYPE badgateway_guard_requests_admitted_total counter$/m);
    assert.match(text, /^# TYPE badgateway_guard_heap_used_ratio gauge$/m);
    guard.release();
  } finally {
    guard.close();
  }
});
