import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  applyFdLimit,
  createFdLeak,
  DEMO_APP_DEFAULTS,
  MIN_FD_HEADROOM,
  renderAppArgs,
  renderListening,
  renderSettings,
  resolveDemoAppOptions,
} from '../../src/app/index.js';
import { isBadgatewayError } from '../../src/errors/index.js';
import { countFds, readFdLimits } from '../../src/proc/index.js';

test('resolveDemoAppOptions fills the defaults and makes a unix socket path absolute', () => {
  assert.deepEqual(resolveDemoAppOptions(), {
    port: 0,
    host: '127.0.0.1',
    unixSocket: undefined,
    backlog: 511,
    keepAliveTimeoutMs: 5000,
    sync: false,
    workMs: 0,
    connectionsCheckingIntervalMs: 30_000,
    metrics: undefined,
  });
  assert.equal(resolveDemoAppOptions({ unixSocket: 'a.sock' }).unixSocket, `${process.cwd()}/a.sock`);
  assert.equal(resolveDemoAppOptions({ sync: true }).workMs, DEMO_APP_DEFAULTS.syncWorkMs);
  assert.equal(resolveDemoAppOptions({ sync: true, workMs: 0 }).workMs, 0);
});

test('resolveDemoAppOptions rejects bad values naming the option and the value', () => {
  const cases: [Parameters<typeof resolveDemoAppOptions>[0], string][] = [
    [{ port: -1 }, '--port: -1 is not valid (expected an integer from 0 to 65535)'],
    [{ port: 1.5 }, '--port: 1.5 is not valid (expected an integer from 0 to 65535)'],
    [{ backlog: 70000 }, '--backlog: 70000 is not valid (expected an integer from 1 to 65535)'],
    [
      { keepAliveTimeoutMs: 2 ** 31 },
      '--keep-alive-timeout: 2147483648 is not valid (expected an integer from 0 to 2147483647)',
    ],
    [{ workMs: Number.NaN }, '--work-ms: NaN is not valid (expected an integer from 0 to 2147483647)'],
    [{ host: ' ' }, '--host: " " is not valid (expected an address such as 127.0.0.1 or ::1)'],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => resolveDemoAppOptions(options),
      (err) => isBadgatewayError(err, 'BG_BAD_OPTION') && err.message === message,
      message,
    );
  }
  const long = `/tmp/${'x'.repeat(103)}`;
  assert.throws(
    () => resolveDemoAppOptions({ unixSocket: long }),
    (err) =>
      isBadgatewayError(err, 'BG_BAD_SOCKET_PATH') &&
      err.message === `--unix-socket ${long}: 108 bytes long, over the 107-byte limit of unix socket paths`,
  );
  assert.equal(resolveDemoAppOptions({ unixSocket: long.slice(0, -1) }).unixSocket, long.slice(0, -1));
});

test('renderAppArgs turns options into badgateway app flags (port 0 by default)', () => {
  assert.deepEqual(renderAppArgs({}), ['--port', '0']);
  assert.deepEqual(
    renderAppArgs({ port: 8080, host: '::1', backlog: 4, keepAliveTimeoutMs: 0, sync: true, workMs: 50, fdLimit: 64 }),
    [
      '--port',
      '8080',
      '--host',
      '::1',
      '--backlog',
      '4',
      '--keepalive-timeout',
      '0ms',
      '--sync',
      '--work',
      '50ms',
      '--fd-limit',
      '64',
    ],
  );
  assert.deepEqual(renderAppArgs({ unixSocket: '/tmp/a.sock', port: 1 }), ['--unix-socket', '/tmp/a.sock']);
});

test('renderListening and renderSettings', () => {
  assert.equal(renderListening({ url: 'unix:/tmp/a.sock' }), 'listening on unix:/tmp/a.sock');
  const options = resolveDemoAppOptions({ keepAliveTimeoutMs: 0, sync: true, backlog: 4 });
  assert.equal(
    renderSettings({ pid: 7, options }, 64),
    'pid 7, backlog 4, keep-alive timeout never, sync (each request blocks the event loop), work 50 ms, fd limit 64',
  );
  assert.equal(
    renderSettings({ pid: 7, options: resolveDemoAppOptions() }, null),
    'pid 7, backlog 511, keep-alive timeout 5000 ms, async, work 0 ms, fd limit unlimited',
  );
});

test('createFdLeak opens and closes exactly n fds', async () => {
  const before = await countFds(process.pid);
  const leak = createFdLeak(); // + 1 reserve
  assert.deepEqual(leak.leak(4), { leaked: 4, held: 4, error: null });
  assert.equal(await countFds(process.pid), before + 5);
  assert.equal(await leak.withReserve(async () => leak.held), 4);
  assert.equal(leak.cleanup(), 4);
  assert.equal(await countFds(process.pid), before + 1);
  leak.close();
  assert.equal(await countFds(process.pid), before);
});

test('applyFdLimit sets soft = hard on a process, and refuses a limit below what it has open', {
  timeout: 10_000,
}, async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    assert.deepEqual(await applyFdLimit(100, pid), { soft: 100, hard: 100 });
    assert.deepEqual(await readFdLimits(pid), { soft: 100, hard: 100 });
    const open = await countFds(pid);
    await assert.rejects(
      applyFdLimit(open + MIN_FD_HEADROOM - 1, pid),
      (err) =>
        isBadgatewayError(err, 'BG_BAD_OPTION') &&
        err.message ===
          `--fd-limit ${open + MIN_FD_HEADROOM - 1}: too low, the app has ${open} fds open at start and needs at least ${open + MIN_FD_HEADROOM}`,
    );
  } finally {
    child.kill('SIGKILL');
  }
});
