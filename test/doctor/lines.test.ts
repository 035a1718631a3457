import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { LineSplitter, latin1ToUtf8, readLines } from '../../src/doctor/index.js';
import { createTempDir } from '../../src/util/index.js';

function split(chunks: readonly string[], max = 10): { lines: [string, boolean][]; truncated: number } {
  const lines: [string, boolean][] = [];
  const s = new LineSplitter((line, truncated) => lines.push([line, truncated]), max);
  for (const c of chunks) s.push(c);
  s.end();
  return { lines, truncated: s.truncated };
}

test('LineSplitter: lines split across chunks, \\r\\n, empty lines, a last line without newline', () => {
  assert.deepEqual(split(['ab', 'c\nde', 'f\r\n\nxyz']).lines, [
    ['abc', false],
    ['def', false],
    ['', false],
    ['xyz', false],
  ]);
  assert.deepEqual(split(['']).lines, []);
  assert.deepEqual(split(['\n']).lines, [['', false]]);
});

test('LineSplitter: a line over the cap is cut to the cap and the rest skipped, in one chunk or many', () => {
  assert.deepEqual(split(['0123456789ABCDEF\nok\n']), {
    lines: [
      ['0123456789', true],
      ['ok', false],
    ],
    truncated: 1,
  });
  assert.deepEqual(split(['01234', '56789A', 'BCD', 'EF\nok']), {
    lines: [
      ['0123456789', true],
      ['ok', false],
    ],
    truncated: 1,
  });
  assert.deepEqual(split(['0123456789\n']).lines, [['0123456789', false]]);
  assert.deepEqual(split(['012345', '6789\n']).lines, [['0123456789', false]]);
  assert.deepEqual(split(['012345', '6789X', '\n']).lines, [['0123456789', true]]);
});

test('readLines: gzip detected by magic bytes (any name), stdin, bytes and counts', { timeout: 10_000 }, async () => {
  const dir = await createTempDir('doctor');
  try {
    const text = 'one\ntwo\nthree\n';
    await writeFile(dir.file('plain'), text);
    await writeFile(dir.file('rotated.1'), gzipSync(text));
    for (const name of ['plain', 'rotated.1']) {
      const got: string[] = [];
      const r = await readLines(dir.file(name), (l) => got.push(l), { maxLineChars: 100, chunkBytes: 4 });
      assert.deepEqual(got, ['one', 'two', 'three'], name);
      assert.equal(r.lines, 3);
      assert.equal(r.gzip, name === 'rotated.1');
    }
    const got: string[] = [];
    const r = await readLines('-', (l) => got.push(l), {
      maxLineChars: 100,
      chunkBytes: 4,
      stdin: Readable.from([gzipSync(text)]),
    });
    assert.deepEqual(got, ['one', 'two', 'three']);
    assert.equal(r.gzip, true);
    await writeFile(dir.file('bad.gz'), Buffer.concat([gzipSync(text).subarray(0, 12), Buffer.from('garbage')]));
    await assert.rejects(
      readLines(dir.file('bad.gz'), () => {}, { maxLineChars: 100, chunkBytes: 1024 }),
      { code: 'BG_UNREADABLE', message: /corrupt gzip data/ },
    );
  } finally {
    await dir.close();
  }
});

test('latin1ToUtf8 restores UTF-8 text read as latin1', () => {
  const s = 'GET /caf\u00e9 \u{1F600}';
  assert.equal(latin1ToUtf8(Buffer.from(s, 'utf8').toString('latin1')), s);
  assert.equal(latin1ToUtf8('plain'), 'plain');
});
