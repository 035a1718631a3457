import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { checkPythonServers } from '../../src/lab/index.js';
import { createTempDir, waitFor } from '../../src/util/index.js';

const PYTHON_APPS = new URL('../../src/lab/python-apps.js', import.meta.url).href;

test('a gevent server left behind by a SIGKILLed lab stops itself (stdin watchdog survives monkey patching)', {
  timeout: 30_000,
}, async (t) => {
  const reason = (await checkPythonServers()).gevent;
  if (reason) {
    t.skip(reason);
    return;
  }
  await using dir = await createTempDir('labpy');
  // A stand-in for the lab: starts the seed 001 server, prints its pid, then waits to be killed.
  const script = `
    const { spawnPythonApp } = await import(${JSON.stringify(PYTHON_APPS)});
    const app = await spawnPythonApp({ server: 'gevent', dir: ${JSON.stringify(dir.path)}, unixSocket: ${JSON.stringify(dir.file('app.sock'))}, fdLimit: 64 });
    console.log(app.pid);
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    createInterface({ input: parent.stdout }).once('line', (line) => resolve(Number(line)));
    parent.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)));
  });
  assert.ok(existsSync(`/proc/${pid}`), 'the server runs');
  parent.kill('SIGKILL');
  await waitFor(`gevent pid ${pid} to exit`, () => !existsSync(`/proc/${pid}`), { timeoutMs: 6000, intervalMs: 50 });
});
