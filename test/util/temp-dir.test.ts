import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createTempDir } from '../../src/util/index.js';

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
