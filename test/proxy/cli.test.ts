/** `badgateway proxy`, run as the real binary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { findNginx } from '../../src/proxy/index.js';
import { runCli, startCli } from '../../src/testing/index.js';

const NGINX = findNginx();

for (const kind of ['nginx', 'builtin'] as const) {
  test(`badgateway proxy --${kind} prints where it listens and its logs, proxies, and cleans up on SIGINT`, {
    skip: kind === 'nginx' && !NGINX ? 'nginx is not installed' : false,
    timeout: 20_000,
  }, async () => {
    const upstream = createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const cli = startCli([
      'proxy',
      '--upstream',
      upstreamUrl,
      `--${kind}`,
      '--upstream-keepalive',
      '2',
      '--read-timeout',
      '5s',
    ]);
    try {
      const m = await cli.waitForLine(/^proxying (http:\/\/127\.0\.0\.1:\d+) -> (\S+) \((nginx|builtin)\)$/);
      assert.equal(m[2], upstreamUrl);
      assert.equal(m[3], kind);
      const errorLog = (await cli.waitForLine(/^ {2}error log: {2}(\/\S+\/error\.log)$/))[1]!;
      await cli.waitForLine(/^ {2}access log: (\/\S+\/access\.log)$/);
      assert.ok(existsSync(errorLog));
      const r = await fetch(`${m[1]}/`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'hello');
      const exit = await cli.stop('SIGINT');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.equal(existsSync(dirname(errorLog)), false, 'temp dir removed');
      assert.equal(cli.stderr, '');
    } finally {
      await cli.stop('SIGKILL');
      upstream.close();
    }
  });
}

test('bad input is one line on stderr and exit 2', { timeout: 20_000 }, async () => {
  const cases: [string[], RegExp][] = [
    [['proxy'], /^badgateway proxy: required option '--upstream <url>' not specified\n$/],
    [
      ['proxy', '--upstream', 'ftp://x:1'],
      /^badgateway proxy: option '--upstream <url>' argument 'ftp:\/\/x:1' is invalid\. expected http:\/\/HOST:PORT or unix:\/absolute\/path\.\n$/,
    ],
    [['proxy', '--upstream', 'unix:relative.sock'], /argument 'unix:relative\.sock' is invalid/],
    [
      ['proxy', '--upstream', '127.0.0.1:1', '--nginx', '--builtin'],
      /^badgateway proxy: option '--nginx' cannot be used with option '--builtin'\n$/,
    ],
    [['proxy', '--upstream', '127.0.0.1:1', '--port', '70000'], /option '--port <n>' argument '70000' is invalid/],
    [
      ['proxy', '--upstream', '127.0.0.1:1', '--upstream-keepalive', '-1'],
      /option '--upstream-keepalive <n>' argument '-1' is invalid/,
    ],
    [['proxy', '--upstream', '127.0.0.1:1', '--keepalive', '-1'], /option '--keepalive <n>' argument '-1' is invalid/],
    [
      ['proxy', '--upstream', '127.0.0.1:1', '--read-timeout', 'soon'],
      /option '--read-timeout <duration>' argument 'soon' is invalid/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    const [args, pattern] = cases[i]!;
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  });
});

test('--nginx without nginx is BG_NO_NGINX with the apt-get hint, exit 2', { timeout: 10_000 }, async () => {
  const r = await runCli(['proxy', '--upstream', '127.0.0.1:1', '--nginx'], { env: { BADGATEWAY_NGINX: '' } });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'badgateway: nginx is not installed (not found in PATH or /usr/sbin)\n  hint: install nginx (Debian/Ubuntu: apt-get install nginx-light) or use the built-in proxy (--builtin)\n',
  );
});

test('--help has examples', { timeout: 10_000 }, async () => {
  const r = await runCli(['proxy', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:\n {2}\$ badgateway proxy --upstream http:\/\/127\.0\.0\.1:3000/);
});
