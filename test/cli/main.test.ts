import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';

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
  const { BIN } = await import('../helpers/cli.js');
  const child = spawn(process.execPath, [BIN, 'causes', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.destroy(); // gone before the CLI writes a byte
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
