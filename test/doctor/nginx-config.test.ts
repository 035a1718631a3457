import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import {
  dumpRunningConfig,
  findRunningNginx,
  loadNginxConfig,
  parseMasterCommandLine,
  parseNginxConfig,
  parseNginxTime,
  proxyPassTarget,
  parseServerAddress,
} from '../../src/doctor/index.js';
import { findNginx, runNginx } from '../../src/proxy/index.js';
import { createTempDir } from '../../src/util/index.js';
import { runCli } from '../../src/testing/index.js';

test('parseNginxTime: nginx time units, combined, bare seconds; malformed is undefined', () => {
  assert.equal(parseNginxTime('60s'), 60_000);
  assert.equal(parseNginxTime('75'), 75_000);
  assert.equal(parseNginxTime('500ms'), 500);
  assert.equal(parseNginxTime('1m30s'), 90_000);
  assert.equal(parseNginxTime('1h 30m'), 5_400_000);
  assert.equal(parseNginxTime(''), undefined);
  assert.equal(parseNginxTime('abc'), undefined);
  assert.equal(parseNginxTime('10x'), undefined);
});

test('parseNginxConfig: words, quotes with escapes, comments, blocks, ${var} kept whole, errors reported not thrown', () => {
  const { directives, errors } = parseNginxConfig(`# comment
user www-data;   # trailing
http {
  log_format main '$remote_addr "q" \\'x\\'';
  map $http_upgrade $c { default upgrade; '' close; }
  server { location / { proxy_pass http://\${backend}; } }
}
`);
  assert.deepEqual(errors, []);
  assert.deepEqual(directives[0], { name: 'user', args: ['www-data'], file: 'nginx.conf', line: 2 });
  const http = directives[1]!;
  assert.equal(http.name, 'http');
  assert.deepEqual(http.block?.[0]?.args, ['main', `$remote_addr "q" 'x'`]);
  assert.deepEqual(
    http.block?.[1]?.block?.map((d) => [d.name, ...d.args]),
    [
      ['default', 'upgrade'],
      ['', 'close'],
    ],
  );
  assert.equal(http.block?.[2]?.block?.[0]?.block?.[0]?.args[0], 'http://${backend}');
  assert.deepEqual(parseNginxConfig('a b\n').errors, ['nginx.conf:2: unexpected end of file, expecting ";" or "}"']);
  assert.deepEqual(parseNginxConfig('}').errors, ['nginx.conf:1: unexpected "}"']);
  assert.deepEqual(parseNginxConfig('http {').errors, ['nginx.conf: unexpected end of file, expecting "}"']);
});

test('addresses: server and proxy_pass targets', () => {
  assert.deepEqual(parseServerAddress('unix:/run/app.sock'), {
    address: 'unix:/run/app.sock',
    unixPath: '/run/app.sock',
  });
  assert.deepEqual(parseServerAddress('127.0.0.1:8080'), { address: '127.0.0.1:8080', host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseServerAddress('[::1]:9000'), { address: '[::1]:9000', host: '::1', port: 9000 });
  assert.deepEqual(parseServerAddress('app.internal'), { address: 'app.internal', host: 'app.internal', port: 80 });
  assert.equal(proxyPassTarget('http://unix:/tmp/app.sock:/api/'), 'unix:/tmp/app.sock');
  assert.equal(proxyPassTarget('http://backend/x'), 'backend');
  assert.equal(proxyPassTarget('http://127.0.0.1:8080'), '127.0.0.1:8080');
  assert.equal(proxyPassTarget('http://$host'), undefined);
  assert.equal(proxyPassTarget('grpc://x'), undefined);
});

test('loadNginxConfig: includes (globs, relative to the main file), upstreams with pools, inherited timeouts, user and limits', async () => {
  await using dir = await createTempDir('ngconf');
  await mkdir(dir.file('conf.d'));
  await writeFile(
    dir.file('nginx.conf'),
    `user www-data www-data;
worker_rlimit_nofile 2048;
events { worker_connections 4096; }
http {
  proxy_read_timeout 30s;
  include conf.d/*.conf;
}
`,
  );
  await writeFile(
    dir.file('conf.d/app.conf'),
    `upstream app { server unix:/run/gunicorn.sock fail_timeout=0; }
upstream api { server 127.0.0.1:8000; keepalive 32; keepalive_timeout 75s; }
server {
  listen 80;
  proxy_connect_timeout 5s;
  location / { proxy_pass http://app; }
  location /api/ { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_read_timeout 2m; }
  location /direct/ { proxy_pass http://127.0.0.1:9000/; }
  location /var/ { proxy_pass http://$arg_backend; }
}
`,
  );
  await writeFile(dir.file('conf.d/other.txt'), 'this is not included;');
  const c = loadNginxConfig(dir.file('nginx.conf'));
  assert.deepEqual(c.files, [dir.file('nginx.conf'), dir.file('conf.d/app.conf')]);
  assert.deepEqual(c.user, { user: 'www-data', group: 'www-data' });
  assert.equal(c.workerConnections, 4096);
  assert.equal(c.workerRlimitNofile, 2048);
  const byName = Object.fromEntries(c.upstreams.map((u) => [u.name, u]));
  assert.deepEqual(byName['app'], {
    name: 'app',
    servers: [{ address: 'unix:/run/gunicorn.sock', unixPath: '/run/gunicorn.sock' }],
    keepalive: 0,
    keepaliveTimeoutMs: 60_000,
    poolEffective: false,
    timeouts: { connectMs: 5000, readMs: 30_000, sendMs: 60_000 },
    locations: 1,
  });
  assert.equal(byName['api']?.keepalive, 32);
  assert.equal(byName['api']?.keepaliveTimeoutMs, 75_000);
  assert.equal(byName['api']?.poolEffective, true);
  assert.deepEqual(byName['api']?.timeouts, { connectMs: 5000, readMs: 120_000, sendMs: 60_000 });
  assert.deepEqual(byName['127.0.0.1:9000']?.servers, [{ address: '127.0.0.1:9000', host: '127.0.0.1', port: 9000 }]);
  assert.match(c.notes.join('\n'), /proxy_pass http:\/\/\$arg_backend \(variables or another scheme\): not followed/);
});

test('a pool without proxy_http_version 1.1 and Connection "" is not used: poolEffective false', async () => {
  await using dir = await createTempDir('ngconf');
  await writeFile(
    dir.file('nginx.conf'),
    'http { upstream a { server 127.0.0.1:1; keepalive 8; } server { location / { proxy_pass http://a; } } }',
  );
  assert.equal(loadNginxConfig(dir.file('nginx.conf')).upstreams[0]?.poolEffective, false);
});

test('bad input: a missing or unreadable config is one BG_ error naming it; a missing include is a note', async () => {
  await using dir = await createTempDir('ngconf');
  assert.throws(() => loadNginxConfig(dir.file('nope.conf')), {
    code: 'BG_UNREADABLE',
    message: `cannot read ${dir.file('nope.conf')}: no such file`,
  });
  assert.throws(() => loadNginxConfig(dir.path), {
    code: 'BG_UNREADABLE',
    message: `cannot read ${dir.path}: is a directory`,
  });
  await writeFile(dir.file('a.conf'), 'include /nonexistent/x.conf; include missing.conf;');
  const c = loadNginxConfig(dir.file('a.conf'));
  assert.match(c.notes.join('\n'), /cannot read included .*missing\.conf \(ENOENT\)/);
  // On the CLI: one line, and exit 2 only when nothing at all could be inspected.
  const alone = await runCli(['doctor', '--nginx-conf', dir.file('nope.conf')]);
  assert.equal(alone.code, 2);
  assert.equal(alone.stderr, `badgateway: cannot read ${dir.file('nope.conf')}: no such file\n`);
  const withLog = await runCli(['doctor', '--nginx-conf', dir.file('nope.conf'), '--nginx-error-log', '-'], {
    input: '',
  });
  assert.equal(withLog.code, 0, withLog.stderr);
  assert.equal(withLog.stderr, `badgateway: cannot read ${dir.file('nope.conf')}: no such file\n`);
  assert.match(withLog.stdout, new RegExp(`^not seen: cannot read ${dir.file('nope.conf')}: no such file$`, 'm'));
  if (process.getuid?.() !== 0) {
    await writeFile(dir.file('secret.conf'), 'user x;');
    await chmod(dir.file('secret.conf'), 0);
    assert.throws(() => loadNginxConfig(dir.file('secret.conf')), { code: 'BG_PERMISSION' });
  }
});

test('hostile config text never throws and stays bounded (random bytes, deep nesting, huge words, include loops)', async () => {
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = [
    '{',
    '}',
    ';',
    '"',
    "'",
    '\\',
    '#',
    '\n',
    ' ',
    'server',
    'upstream',
    'keepalive',
    '$',
    '${',
    'x',
    'proxy_pass',
    'http://',
  ];
  for (let i = 0; i < 3000; i++) {
    const text = Array.from(
      { length: Math.floor(rand() * 80) },
      () => alphabet[Math.floor(rand() * alphabet.length)],
    ).join('');
    assert.doesNotThrow(() => parseNginxConfig(text));
  }
  const deep = parseNginxConfig(`${'a {'.repeat(10_000)}${'}'.repeat(10_000)}`);
  assert.ok(deep.errors.some((e) => /nested too deep/.test(e)));
  assert.doesNotThrow(() => parseNginxConfig(`a "${'x'.repeat(2_000_000)}`));
  await using dir = await createTempDir('ngconf');
  await writeFile(dir.file('loop.conf'), 'include loop.conf; http { }');
  const loop = loadNginxConfig(dir.file('loop.conf'));
  assert.ok(loop.files.length <= 256, `${loop.files.length} files`);
});

test('parseMasterCommandLine reads what nginx left of its argv', () => {
  assert.deepEqual(
    parseMasterCommandLine('nginx: master process /usr/sbin/nginx -p /x/ -c /x/nginx.conf -e /x/error.log\0'),
    {
      commandLine: '/usr/sbin/nginx -p /x/ -c /x/nginx.conf -e /x/error.log',
      prefix: '/x/',
      conf: '/x/nginx.conf',
      errorLog: '/x/error.log',
    },
  );
  assert.deepEqual(parseMasterCommandLine('nginx: master process /usr/sbin/nginx -g daemon on; master_process on;'), {
    commandLine: '/usr/sbin/nginx -g daemon on; master_process on;',
    globals: 'daemon on; master_process on;',
  });
  assert.equal(parseMasterCommandLine('nginx: worker process'), undefined);
});

test('a running nginx is found in /proc and read with nginx -T: its upstream, pool and timeouts, its workers', {
  timeout: 30_000,
  skip: !findNginx() ? 'nginx not installed' : false,
}, async () => {
  const nginx = await runNginx({
    upstream: 'http://127.0.0.1:9',
    keepalive: 8,
    readTimeoutMs: 1500,
    connectTimeoutMs: 700,
  });
  try {
    const master = findRunningNginx().find((m) => m.masterPid === nginx.pid);
    assert.ok(master, 'the master is found');
    assert.equal(master.conf, nginx.configPath);
    assert.equal(master.workers.length, 1);
    const config = await dumpRunningConfig(master);
    assert.equal(config.source, `nginx -T of pid ${nginx.pid}`);
    assert.deepEqual(config.files, [nginx.configPath]);
    assert.deepEqual(
      config.upstreams.map((u) => [
        u.name,
        u.servers.map((s) => s.address),
        u.keepalive,
        u.poolEffective,
        u.keepaliveTimeoutMs,
        u.timeouts,
      ]),
      [['badgateway_upstream', ['127.0.0.1:9'], 8, true, 60_000, { connectMs: 700, readMs: 1500, sendMs: 60_000 }]],
    );
    assert.equal(config.workerConnections, 1024);
  } finally {
    await nginx.close();
  }
});

test("--nginx-conf alone: every upstream it names is inspected; a pool makes doctor probe the app and compare with the pool's keepalive_timeout; worker_connections above worker_rlimit_nofile", {
  timeout: 20_000,
}, async () => {
  const { createServer } = await import('node:http');
  const server = createServer((_q, r) => r.end('ok'));
  server.keepAliveTimeout = 5000; // Node's default, below nginx's 60 s pool timeout: the race
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await using dir = await createTempDir('ngconf');
  const conf = (pool: boolean): string => `worker_rlimit_nofile 1024;
events { worker_connections 4096; }
http {
  upstream app { server 127.0.0.1:${port}; ${pool ? 'keepalive 16;' : ''} }
  server { location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
`;
  try {
    await writeFile(dir.file('pool.conf'), conf(true));
    const r = await runCli(['doctor', '--nginx-conf', dir.file('pool.conf'), '--json', '--interval', '0']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as import('../../src/doctor/index.js').DoctorReport;
    assert.deepEqual(
      report.facts?.targets.map((t) => [t.label, t.fromConfig]),
      [[`port ${port}`, 'app']],
    );
    const race = report.findings.find((f) => f.cause === 'keepalive-race');
    assert.ok(race, report.findings.map((f) => f.cause).join(', '));
    assert.equal(
      race.summary,
      'upstream keep-alive timeout 5 s ≤ proxy idle timeout 60 s: it closes pooled connections the proxy may reuse',
    );
    assert.equal(
      race.evidence[1],
      `the proxy pools idle connections to it: upstream app, keepalive 16, keepalive_timeout 60 s (${dir.file('pool.conf')})`,
    );
    const fds = report.findings.find((f) => f.cause === 'proxy-fd-exhaustion');
    assert.equal(
      fds?.summary,
      'worker_connections 4096 is above the 1024 fds a worker may open: under load a worker fails with (24: Too many open files) before it runs out of connections',
    );
    assert.equal(fds?.fix[0], 'worker_rlimit_nofile 8192; (at least twice worker_connections)');
    // No pool: nothing reuses a connection, no race, no probe — even when asked with --proxy-idle-timeout.
    await writeFile(dir.file('nopool.conf'), conf(false));
    const none = JSON.parse(
      (
        await runCli([
          'doctor',
          '--nginx-conf',
          dir.file('nopool.conf'),
          '--proxy-idle-timeout',
          '60s',
          '--json',
          '--interval',
          '0',
        ])
      ).stdout,
    ) as import('../../src/doctor/index.js').DoctorReport;
    assert.equal(none.facts?.targets[0]?.listeners[0]?.proxyUnpooled, true);
    assert.ok(!none.findings.some((f) => f.cause === 'keepalive-race'));
    assert.equal(none.facts?.targets[0]?.listeners[0]?.keepAlive, undefined);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
