import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from '../../src/testing/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('--help lists the usage and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: badgateway/);
});

test('an unknown command is one line on stderr and exit 2', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^badgateway: unknown command 'frobnicate'/);
});

test('an unknown option is one line on stderr and exit 2', async () => {
  const r = await runCli(['--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^badgateway: unknown option '--frobnicate'\n$/);
});

test('a reader that closes the pipe early (| head) is not a crash', async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../../src/testing/index.js');
  const child = spawn(process.execPath, [BIN, 'causes', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.destroy(); // gone before the CLI writes a byte
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('output larger than the pipe, read late, arrives whole (regression: the exit cut it short)', {
  timeout: 30_000,
}, async () => {
  const { execFile } = await import('node:child_process');
  const { BIN } = await import('../../src/testing/index.js');
  // Python shrinks the pipe to 4 KiB (F_SETPIPE_SZ) and reads only after 1 s, so most of the
  // 26 KB catalogue is still queued inside Node when the command returns.
  const script = [
    'import fcntl, os, subprocess, sys, time',
    'r, w = os.pipe()',
    'fcntl.fcntl(w, 1031, 4096)',
    'p = subprocess.Popen(sys.argv[1:], stdout=w)',
    'os.close(w)',
    'time.sleep(1)',
    'data = b"".join(iter(lambda: os.read(r, 65536), b""))',
    'sys.stdout.write("%d %d\\n" % (p.wait(), len(data)))',
    'sys.stdout.flush()',
  ].join('\n');
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile('/usr/bin/python3', ['-c', script, process.execPath, BIN, 'causes', '--json'], (err, out) =>
      err ? reject(err) : resolve({ stdout: out }),
    ),
  );
  // Bytes, as Python counts them (the catalogue has non-ASCII text: …, ×, ≥).
  const expected = Buffer.byteLength((await runCli(['causes', '--json'])).stdout);
  assert.ok(expected > 16_384, `the catalogue is ${expected} bytes`);
  assert.equal(stdout.trim(), `0 ${expected}`);
});
