/**
 * The nginx runner itself: the generated config, `nginx -t` failures surfaced, port handling,
 * missing nginx, and that close() leaves no process and no files behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import {
  findFreePort,
  findNginx,
  parseUpstream,
  renderNginxConfig,
  resolveProxyOptions,
  runNginx,
  startProxy,
} from '../../src/proxy/index.js';
import { isBadgatewayError } from '../../src/errors/index.js';
import { waitFor } from '../../src/util/index.js';

const NGINX = findNginx();
const skip = NGINX ? false : 'nginx is not installed (apt-get install nginx-light)';
if (!NGINX) console.log(`# skipping the nginx runner tests: ${skip}`);

const paths = {
  prefix: '/p',
  conf: '/p/nginx.conf',
  pid: '/p/nginx.pid',
  errorLog: '/p/error.log',
  accessLog: '/p/access.log',
  temp: '/p/tmp',
};

test('the config keeps everything in the prefix and maps each option to its directive', () => {
  const conf = renderNginxConfig(
    resolveProxyOptions({
      upstream: 'unix:/tmp/app.sock',
      keepalive: 8,
      connectTimeoutMs: 250,
      readTimeoutMs: 3000,
      sendTimeoutMs: 4000,
      workerConnections: 64,
    }),
    8080,
    paths,
  );
  for (const directive of [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    'pid "/p/nginx.pid";',
    'error_log "/p/error.log" error;',
    'access_log "/p/access.log" badgateway;',
    'client_body_temp_path "/p/tmp/client_body";',
    'proxy_temp_path "/p/tmp/proxy";',
    'worker_connections 64;',
    'server unix:/tmp/app.sock;',
    'keepalive 8;',
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'listen 127.0.0.1:8080;',
    'proxy_connect_timeout 250ms;',
    'proxy_read_timeout 3000ms;',
    'proxy_send_timeout 4000ms;',
    'proxy_next_upstream error timeout;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
  ]) {
    assert.ok(conf.includes(directive), `missing ${directive}`);
  }
  const off = renderNginxConfig(
    resolveProxyOptions({ upstream: 'http://127.0.0.1:9000', keepalive: 0, nextUpstream: false }),
    8080,
    paths,
  );
  assert.ok(off.includes('server 127.0.0.1:9000;'));
  assert.ok(!off.includes('keepalive 0') && !off.includes('proxy_http_version'));
  assert.ok(off.includes('proxy_next_upstream off;'));
});

test('upstreams parse to one normal form; bad ones are BG_BAD_OPTION naming upstream', () => {
  assert.deepEqual(parseUpstream('127.0.0.1:8080'), {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 8080,
    url: 'http://127.0.0.1:8080',
  });
  assert.deepEqual(parseUpstream('http://localhost'), {
    kind: 'tcp',
    host: 'localhost',
    port: 80,
    url: 'http://localhost:80',
  });
  assert.deepEqual(parseUpstream('http://[::1]:81/'), { kind: 'tcp', host: '::1', port: 81, url: 'http://[::1]:81' });
  assert.deepEqual(parseUpstream('unix:/run/app.sock'), {
    kind: 'unix',
    path: '/run/app.sock',
    url: 'unix:/run/app.sock',
  });
  for (const bad of [
    'https://x:1',
    'unix:relative.sock',
    'http://x:1/path',
    'unix:/a b',
    `unix:/${'x'.repeat(120)}`,
    'http://',
  ]) {
    assert.throws(
      () => parseUpstream(bad),
      (err: unknown) => isBadgatewayError(err, 'BG_BAD_OPTION') && err.message.startsWith('upstream: '),
      bad,
    );
  }
  assert.throws(
    () => resolveProxyOptions({ upstream: 'http://x:1', readTimeoutMs: 0 }),
    /readTimeoutMs: 0 is not valid/,
  );
  assert.throws(() => resolveProxyOptions({ upstream: 'http://x:1', keepalive: -1 }), /keepalive: -1 is not valid/);
});

test("nginx -t failures are BG_NGINX_FAILED with nginx's own message, and nothing is left behind", {
  skip,
  timeout: 15_000,
}, async () => {
  await assert.rejects(runNginx({ upstream: 'http://no-such-host.invalid:80' }), (err: unknown) => {
    assert.ok(isBadgatewayError(err, 'BG_NGINX_FAILED'), String(err));
    assert.match(
      err.message,
      /^nginx rejected its configuration: \[emerg\] host not found in upstream "no-such-host\.invalid:80" in \/tmp\/bg-nginx-\w+\/nginx\.conf:\d+$/,
    );
    const prefix = /(\/tmp\/bg-nginx-\w+)/.exec(err.message)![1]!;
    assert.equal(existsSync(prefix), false, 'prefix removed');
    return true;
  });
});

test('a taken listen port is BG_ADDRESS_IN_USE', { skip, timeout: 15_000 }, async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(runNginx({ upstream: 'http://127.0.0.1:9', listenPort: port }), (err: unknown) => {
      assert.ok(isBadgatewayError(err, 'BG_ADDRESS_IN_USE'), String(err));
      // Said at once, before nginx would retry its bind() for 2.5 s.
      assert.equal(err.message, `127.0.0.1:${port} is already in use`);
      return true;
    });
  } finally {
    blocker.close();
  }
});

test('runNginx on a given port proxies, logs, and close() stops master and workers and removes the prefix', {
  skip,
  timeout: 15_000,
}, async () => {
  const upstream = createHttpServer((req, res) => res.end(`hello ${req.headers['x-forwarded-for']}`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const listenPort = await findFreePort();
  const proxy = await startProxy({
    kind: 'nginx',
    upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}`,
    listenPort,
  });
  try {
    assert.equal(proxy.kind, 'nginx');
    assert.equal(proxy.port, listenPort);
    assert.equal(proxy.url, `http://127.0.0.1:${listenPort}`);
    const r = await fetch(`${proxy.url}/x`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'hello 127.0.0.1');
    const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(proxy.pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(workers.length, 1);
    assert.match(await proxy.readAccessLog(), /"GET \/x HTTP\/1\.1" 200 \d+ .* upstream_status=200 /);
    await proxy.close();
    for (const pid of [proxy.pid, ...workers]) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(existsSync(proxy.errorLogPath), false);
  } finally {
    await proxy.close();
    upstream.close();
  }
});

test('BADGATEWAY_NGINX="" means no nginx: startProxy nginx is BG_NO_NGINX with the install hint, auto falls back to builtin', {
  timeout: 10_000,
}, async () => {
  const saved = process.env['BADGATEWAY_NGINX'];
  process.env['BADGATEWAY_NGINX'] = '';
  try {
    await assert.rejects(startProxy({ kind: 'nginx', upstream: 'http://127.0.0.1:9' }), (err: unknown) => {
      assert.ok(isBadgatewayError(err, 'BG_NO_NGINX'));
      assert.match(err.hint ?? '', /apt-get install nginx-light/);
      return true;
    });
    const proxy = await startProxy({ upstream: 'http://127.0.0.1:9' });
    assert.equal(proxy.kind, 'builtin');
    await proxy.close();
  } finally {
    if (saved === undefined) delete process.env['BADGATEWAY_NGINX'];
    else process.env['BADGATEWAY_NGINX'] = saved;
  }
});

test('a process that exits without close() takes nginx (master and workers) and its prefix with it', {
  skip,
  timeout: 15_000,
}, async () => {
  const moduleUrl = new URL('../../src/proxy/index.js', import.meta.url).href;
  const code = `import { runNginx } from ${JSON.stringify(moduleUrl)};
import { readFileSync } from 'node:fs';
const p = await runNginx({ upstream: 'http://127.0.0.1:9' });
const workers = readFileSync('/proc/' + p.pid + '/task/' + p.pid + '/children', 'utf8').trim();
console.log(p.errorLogPath + ' ' + p.pid + ' ' + workers);
process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const [errorLog, ...pids] = out.trim().split(/\s+/);
  assert.equal(pids.length, 2, 'master and one worker');
  assert.equal(existsSync(errorLog!), false, 'prefix removed');
  // Dead, or a zombie waiting for init to reap it.
  const alive = (): string[] =>
    pids.filter((pid) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
  await waitFor('master and worker to be gone', () => alive().length === 0, { timeoutMs: 3000 }).catch(() => undefined);
  assert.deepEqual(alive(), [], 'no nginx process left');
});
