import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { which } from '../../src/util/index.js';
import { assertLinux, readNetstatCounters, readSomaxconn } from '../../src/proc/index.js';

test('readNetstatCounters: TcpExt counters are integers ≥ 0, ListenOverflows/ListenDrops among them', async () => {
  const counters = await readNetstatCounters();
  assert.ok(Number.isSafeInteger(counters.listenOverflows) && counters.listenOverflows >= 0);
  assert.ok(Number.isSafeInteger(counters.listenDrops) && counters.listenDrops >= counters.listenOverflows);
  assert.equal(counters.tcpExt['ListenOverflows'], counters.listenOverflows);
  assert.equal(counters.tcpExt['ListenDrops'], counters.listenDrops);
  assert.ok(Object.keys(counters.tcpExt).length > 50);
  for (const value of Object.values(counters.tcpExt)) assert.ok(Number.isSafeInteger(value) && value >= 0);
});

test('readSomaxconn matches sysctl -n net.core.somaxconn', async (t) => {
  const sysctl = which('sysctl');
  if (!sysctl) return t.skip('sysctl (procps) is not installed');
  assert.equal(
    await readSomaxconn(),
    Number(execFileSync(sysctl, ['-n', 'net.core.somaxconn'], { encoding: 'utf8' }).trim()),
  );
});

test('off Linux every reader refuses with BG_UNSUPPORTED_PLATFORM', () => {
  assert.throws(() => assertLinux('darwin'), {
    code: 'BG_UNSUPPORTED_PLATFORM',
    message: 'process and socket facts need Linux (/proc, ss); this is darwin',
  });
  assert.doesNotThrow(() => assertLinux('linux'));
});
