import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createTempDir, waitFor } from '../../src/util/index.js';

test('createTempDir: close() removes the dir and its files, twice is fine', async () => {
  const dir = await createTempDir('t');
  writeFileSync(dir.file('a'), 'x');
  await Promise.all([dir.close(), dir.close()]);
  assert.equal(existsSync(dir.path), false);
});

test('closeSync() removes the dir even while an async close() is under way (exit path)', async () => {
  const dir = await createTempDir('t');
  writeFileSync(dir.file('a'), 'x');
  const pending = dir.close();
  dir.closeSync();
  assert.equal(existsSync(dir.path), false);
  await pending;
});

test('a process SIGKILLed before close(): its reaper removes the dir; close() ends the reaper', {
  timeout: 20_000,
}, async () => {
  const script = `import { createTempDir } from ${JSON.stringify(new URL('../../src/util/index.js', import.meta.url).href)};
const a = await createTempDir('t'); const b = await createTempDir('t');
await b.close();
console.log(a.path + ' ' + b.path);
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [kept, closed] = await waitFor(
    'the child to print its dirs',
    () => (out.includes('\n') ? out.trim().split(' ') : undefined),
    { timeoutMs: 10_000 },
  );
  assert.equal(existsSync(kept!), true);
  assert.equal(existsSync(closed!), false);
  // One reaper is left, for the dir not closed; the closed one's reaper was ended with it.
  const reapers = () =>
    readdirSync('/proc').filter(
      (p) => /^\d+$/.test(p) && readCmdline(p).includes(`badgateway-reaper`) && readCmdline(p).includes('/bg-t-'),
    );
  assert.ok(reapers().some((p) => readCmdline(p).endsWith(kept!)));
  assert.ok(!reapers().some((p) => readCmdline(p).endsWith(closed!)));
  child.kill('SIGKILL');
  await waitFor('the reaper to remove the dir', () => !existsSync(kept!), { timeoutMs: 10_000 });
});

function readCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}
