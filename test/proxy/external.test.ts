/**
 * HAProxy and Caddy as badgateway starts them: the generated configs, a real proxied request and
 * its log line, cleanup on close() and when the owner exits without it, HAProxy logging to a unix
 * datagram socket, and the errors (missing binary, rejected config, taken port). Each proxy's
 * tests are skipped, with the reason printed, when it is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { dirname } from 'node:path';
import { LINE, createLogLineClassifier, type FastClassification } from '../../src/causes/index.js';
import { isBadgatewayError } from '../../src/errors/index.js';
import {
  findCaddy,
  findFreePort,
  findHaproxy,
  renderCaddyConfig,
  renderHaproxyConfig,
  resolveProxyOptions,
  startProxy,
  type ProxyHandle,
} from '../../src/proxy/index.js';
import { waitFor } from '../../src/util/index.js';
import { startCli } from '../../src/testing/index.js';

const FOUND = { haproxy: findHaproxy(), caddy: findCaddy() };
for (const [kind, path] of Object.entries(FOUND))
  if (!path)
    console.log(`# skipping the ${kind} tests: ${kind} is not installed (apt-get install ${kind}; .ci/run does)`);
const skipUnless = (kind: 'haproxy' | 'caddy'): string | false => (FOUND[kind] ? false : `${kind} is not installed`);

test('HAProxy config: each option maps to its setting (timeouts, keep-alive pool on/off, unix upstream, retries)', () => {
  const pooled = renderHaproxyConfig(
    resolveProxyOptions({ upstream: 'unix:/run/app.sock', keepalive: 8, connectTimeoutMs: 1500, readTimeoutMs: 7000 }),
    8080,
    { log: 'stdout', idleTimeoutMs: 30_000 },
  );
  assert.match(pooled, /^ {4}server app unix@\/run\/app\.sock pool-max-conn 8 pool-purge-delay 30000ms$/m);
  assert.match(pooled, /^ {4}http-reuse always$/m);
  assert.match(pooled, /^ {4}timeout connect 1500ms$/m);
  assert.match(pooled, /^ {4}timeout server 7000ms$/m);
  assert.match(pooled, /^ {4}bind 127\.0\.0\.1:8080$/m);
  assert.match(pooled, /^ {4}log stdout format raw local0 info$/m);
  assert.match(pooled, /^ {4}retries 1\n {4}retry-on empty-response$/m);
  assert.match(pooled, /^ {4}noreuseport$/m);
  assert.match(pooled, /^ {4}timeout client 60000ms$/m);
  assert.match(pooled, /^ {4}timeout http-request 60000ms$/m);
  assert.doesNotMatch(pooled, /deny_status 413/);
  const limited = renderHaproxyConfig(
    resolveProxyOptions({
      upstream: '127.0.0.1:3000',
      clientMaxBodyBytes: 1024,
      clientHeaderTimeoutMs: 5000,
      clientBodyTimeoutMs: 7000,
    }),
    8080,
    { log: 'stdout', idleTimeoutMs: 60_000 },
  );
  assert.match(limited, /^ {4}http-request deny deny_status 413 if \{ req\.hdr_val\(content-length\) gt 1024 \}$/m);
  assert.match(limited, /^ {4}timeout http-request 5000ms$/m);
  assert.match(limited, /^ {4}timeout client 7000ms$/m);
  const fresh = renderHaproxyConfig(
    resolveProxyOptions({ upstream: 'http://[::1]:3000', keepalive: 0, nextUpstream: false }),
    8080,
    { log: { socket: '/tmp/x/log.sock' }, idleTimeoutMs: 60_000 },
  );
  assert.match(fresh, /^ {4}server app \[::1\]:3000$/m);
  assert.match(fresh, /^ {4}http-reuse never\n {4}option http-server-close$/m);
  assert.match(fresh, /^ {4}retries 0$/m);
  assert.doesNotMatch(fresh, /retry-on|disable-l7-retry/);
  assert.match(fresh, /^ {4}log \/tmp\/x\/log\.sock len 8192 format rfc3164 local0 info$/m);
});

test('Caddy config: the reverse proxy transport gets the timeouts and the keep-alive pool; admin off; nothing outside the temp dir', () => {
  const paths = { errorLog: '/t/caddy.log', accessLog: '/t/access.log', data: '/t/data' };
  const pooled = JSON.parse(
    renderCaddyConfig(
      resolveProxyOptions({
        upstream: 'unix:/run/app.sock',
        keepalive: 8,
        connectTimeoutMs: 1500,
        readTimeoutMs: 7000,
        sendTimeoutMs: 9000,
      }),
      8080,
      paths,
      30_000,
    ),
  );
  const handler = pooled.apps.http.servers.badgateway.routes[1].handle[0];
  assert.deepEqual(handler.upstreams, [{ dial: 'unix//run/app.sock' }]);
  assert.deepEqual(handler.transport, {
    protocol: 'http',
    dial_timeout: '1500ms',
    response_header_timeout: '7000ms',
    write_timeout: '9000ms',
    keep_alive: { enabled: true, max_idle_conns_per_host: 8, idle_timeout: '30000ms' },
  });
  assert.deepEqual(pooled.admin, { disabled: true, config: { persist: false } });
  assert.equal(pooled.storage.root, '/t/data');
  assert.deepEqual(pooled.apps.http.servers.badgateway.listen, ['127.0.0.1:8080']);
  const fresh = JSON.parse(
    renderCaddyConfig(resolveProxyOptions({ upstream: '127.0.0.1:3000', keepalive: 0 }), 8080, paths, 60_000),
  );
  assert.deepEqual(fresh.apps.http.servers.badgateway.routes[1].handle[0].transport.keep_alive, { enabled: false });
  assert.equal(fresh.apps.http.servers.badgateway.read_header_timeout, '60000ms');
  const limited = JSON.parse(
    renderCaddyConfig(
      resolveProxyOptions({ upstream: '127.0.0.1:3000', clientMaxBodyBytes: 1024 }),
      8080,
      paths,
      60_000,
    ),
  );
  assert.deepEqual(limited.apps.http.servers.badgateway.routes[1].handle[0], {
    handler: 'request_body',
    max_size: 1024,
  });
});

async function withUpstream<T>(run: (url: string) => Promise<T>): Promise<T> {
  const upstream = createHttpServer((req, res) => res.end(`hello ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  try {
    return await run(`http://127.0.0.1:${(upstream.address() as { port: number }).port}`);
  } finally {
    upstream.close();
  }
}

for (const kind of ['haproxy', 'caddy'] as const) {
  test(`${kind}: proxies on a given port, logs the request, and close() ends the process and removes its temp dir`, {
    skip: skipUnless(kind),
    timeout: 20_000,
  }, async () => {
    await withUpstream(async (url) => {
      const listenPort = await findFreePort();
      const proxy = await startProxy({ kind, upstream: url, listenPort, keepalive: 4 });
      try {
        assert.equal(proxy.kind, kind);
        assert.equal(proxy.url, `http://127.0.0.1:${listenPort}`);
        const r = await fetch(`${proxy.url}/x`);
        assert.equal(await r.text(), 'hello /x');
        const log = await waitFor('the access line', async () => {
          const text = await proxy.readAccessLog();
          return text.includes('/x') && text;
        });
        assert.match(
          log,
          kind === 'haproxy'
            ? / badgateway upstream\/app \S+ 200 \d+ - - ---- .*"GET \/x HTTP\/1\.1"/
            : /"logger":"http\.log\.access".*"uri":"\/x".*"status":200/,
        );
        // The readiness probe is answered by the proxy itself and never logged.
        assert.doesNotMatch(log, /__badgateway/);
        await proxy.close();
        assert.throws(() => process.kill(proxy.pid, 0), { code: 'ESRCH' });
        assert.equal(existsSync(dirname(proxy.errorLogPath)), false);
      } finally {
        await proxy.close();
      }
    });
  });

  test(`${kind}: a process that exits without close() takes the proxy and its temp dir with it`, {
    skip: skipUnless(kind),
    timeout: 20_000,
  }, async () => {
    const moduleUrl = new URL('../../src/proxy/index.js', import.meta.url).href;
    const code = `import { startProxy } from ${JSON.stringify(moduleUrl)};
const p = await startProxy({ kind: '${kind}', upstream: 'http://127.0.0.1:9' });
console.log(p.errorLogPath + ' ' + p.pid);
process.exit(0);`;
    const [log, pid] = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      encoding: 'utf8',
      timeout: 15_000,
    })
      .trim()
      .split(' ');
    assert.equal(existsSync(dirname(log!)), false, 'temp dir removed');
    const alive = (): boolean => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await waitFor(`${kind} ${pid} to be gone`, () => !alive(), { timeoutMs: 5000 });
  });

  test(`${kind}: missing binary is BG_MISSING_TOOL with the install hint; a taken port is BG_ADDRESS_IN_USE`, {
    timeout: 20_000,
  }, async (t) => {
    const variable = kind === 'haproxy' ? 'BADGATEWAY_HAPROXY' : 'BADGATEWAY_CADDY';
    const saved = process.env[variable];
    process.env[variable] = '';
    try {
      await assert.rejects(startProxy({ kind, upstream: 'http://127.0.0.1:9' }), (err: unknown) => {
        assert.ok(isBadgatewayError(err, 'BG_MISSING_TOOL'));
        assert.equal(
          err.message,
          `${kind} is not installed (not found in PATH${kind === 'haproxy' ? ' or /usr/sbin' : ''})`,
        );
        assert.match(err.hint ?? '', new RegExp(`apt-get install ${kind}`));
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env[variable];
      else process.env[variable] = saved;
    }
    if (!FOUND[kind]) return t.skip(`${kind} is not installed`);
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      await assert.rejects(startProxy({ kind, upstream: 'http://127.0.0.1:9', listenPort: port }), (err: unknown) => {
        assert.ok(isBadgatewayError(err, 'BG_ADDRESS_IN_USE'), String(err));
        assert.equal(err.message, `127.0.0.1:${port} is already in use`);
        assert.equal(err.hint, '--port 0 picks a free port');
        return true;
      });
    } finally {
      taken.close();
    }
  });
}

test('haproxy: a config HAProxy rejects is BG_PROXY_FAILED with its own words, and nothing is left behind', {
  skip: skipUnless('haproxy'),
  timeout: 20_000,
}, async () => {
  await assert.rejects(startProxy({ kind: 'haproxy', upstream: 'http://no-such-host.invalid:80' }), (err: unknown) => {
    assert.ok(isBadgatewayError(err, 'BG_PROXY_FAILED'), String(err));
    assert.match(
      err.message,
      /^haproxy rejected its configuration: .*could not resolve address 'no-such-host\.invalid'/,
    );
    const dir = /(\/tmp\/bg-haproxy-\w+)/.exec(err.message)?.[1];
    if (dir) assert.equal(existsSync(dir), false);
    return true;
  });
});

test('haproxy logTarget socket (proxy --haproxy-log-to socket): HAProxy logs syslog datagrams to a unix socket badgateway reads into the log file', {
  skip: skipUnless('haproxy'),
  timeout: 20_000,
}, async () => {
  let proxy: ProxyHandle | undefined;
  try {
    proxy = await startProxy({ kind: 'haproxy', upstream: 'http://127.0.0.1:9', logTarget: 'socket' });
    assert.equal((await fetch(`${proxy.url}/down`)).status, 503);
    const line = await waitFor('the SC-- line', async () =>
      (await proxy!.readErrorLog()).split('\n').find((l) => l.includes('SC--')),
    );
    assert.match(
      line,
      new RegExp(
        `^<134>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\S+ haproxy\\[${proxy.pid}\\]: 127\\.0\\.0\\.1:\\d+ \\[`,
      ),
    );
    const into = {} as FastClassification;
    assert.equal(createLogLineClassifier('haproxy').classify(line, into).kind, LINE.FAILURE);
    assert.equal(into.patternId, 'haproxy-SC');
    assert.ok(existsSync(`${dirname(proxy.errorLogPath)}/log.sock`));
  } finally {
    await proxy?.close();
  }
  assert.equal(existsSync(dirname(proxy!.errorLogPath)), false);
});

for (const kind of ['haproxy', 'caddy'] as const) {
  test(`badgateway proxy --${kind} prints where it listens and its logs, proxies, and cleans up on SIGINT`, {
    skip: skipUnless(kind),
    timeout: 20_000,
  }, async () => {
    await withUpstream(async (url) => {
      // HAProxy through the datagram socket here (the library test above covers its stdout).
      const cli = startCli([
        'proxy',
        '--upstream',
        url,
        `--${kind}`,
        '--read-timeout',
        '5s',
        '--upstream-idle-timeout',
        '10s',
        ...(kind === 'haproxy' ? ['--haproxy-log-to', 'socket'] : []),
      ]);
      try {
        const m = await cli.waitForLine(new RegExp(`^proxying (http://127\\.0\\.0\\.1:\\d+) -> (\\S+) \\(${kind}\\)$`));
        const log = (
          await cli.waitForLine(
            kind === 'haproxy' ? /^ {2}log: {8}(\/\S+\/haproxy\.log)$/ : /^ {2}error log: {2}(\/\S+\/caddy\.log)$/,
          )
        )[1]!;
        assert.equal((await fetch(`${m[1]}/y`)).status, 200);
        if (kind === 'haproxy') {
          const line = await waitFor('the request line', () =>
            readFileSync(log, 'utf8')
              .split('\n')
              .find((l) => l.includes('"GET /y HTTP/1.1"')),
          );
          assert.match(line, /^<134>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ haproxy\[\d+\]: 127\.0\.0\.1:\d+ \[.* 200 /);
        }
        const exit = await cli.stop('SIGINT');
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.equal(existsSync(dirname(log)), false, 'temp dir removed');
        assert.equal(cli.stderr, '');
      } finally {
        await cli.stop('SIGKILL');
      }
    });
  });
}
