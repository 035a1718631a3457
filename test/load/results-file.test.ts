import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createTempDir } from '../../src/util/index.js';
import { createMetrics, createResultsWriter, readResults, type LoadResult } from '../../src/load/index.js';

const sample = (seq: number): LoadResult => ({
  seq,
  dueMs: seq * 5,
  sentMs: seq * 5 + 0.0123,
  latencyMs: 1.23456,
  status: seq === 7 ? 0 : seq % 3 === 0 ? 502 : 200,
  bytesIn: 11,
  bytesOut: 3,
  error: seq === 7 ? 'ECONNRESET' : '',
});

test('results round-trip through NDJSON (µs precision) and gzip, and foreign lines are skipped', async () => {
  const dir = await createTempDir('load');
  try {
    const writer = createResultsWriter(dir.file('a.ndjson'));
    for (let i = 0; i < 1000; i++) writer.write(sample(i));
    await writer.close();
    const lines = readFileSync(dir.file('a.ndjson'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1000);
    assert.deepEqual(JSON.parse(lines[7]!), {
      seq: 7,
      dueMs: 35,
      sentMs: 35.012,
      latencyMs: 1.235,
      status: 0,
      bytesIn: 11,
      bytesOut: 3,
      error: 'ECONNRESET',
    });
    await pipeline(createReadStream(dir.file('a.ndjson')), createGzip(), createWriteStream(dir.file('a.ndjson.gz')));
    writeFileSync(dir.file('b.ndjson'), `${lines[0]}\n\n{"other":1}\n${lines[1]}`); // no final newline
    const seen: number[] = [];
    const stats = await readResults([dir.file('a.ndjson.gz'), dir.file('b.ndjson')], (r) => seen.push(r.seq));
    assert.deepEqual(stats, { files: 2, records: 1002, skipped: 1, headers: [undefined, undefined] });
    assert.deepEqual(seen.slice(-2), [0, 1]);
  } finally {
    await dir.close();
  }
});

test('reading a missing or foreign file is BG_UNREADABLE / BG_BAD_OPTION', async () => {
  const dir = await createTempDir('load');
  try {
    await assert.rejects(
      readResults([dir.file('none.ndjson')], () => {}),
      { code: 'BG_UNREADABLE', message: /none\.ndjson \(ENOENT\)/ },
    );
    writeFileSync(dir.file('x.txt'), 'Requests [total]\n');
    await assert.rejects(
      readResults([dir.file('x.txt')], () => {}),
      { code: 'BG_BAD_OPTION', message: /not a badgateway results file/ },
    );
    assert.throws(() => createResultsWriter(dir.file('no/such/dir.ndjson')), { code: 'BG_UNREADABLE' });
  } finally {
    await dir.close();
  }
});

test('merging two result files gives the totals of both runs', async () => {
  const dir = await createTempDir('load');
  try {
    const a = createResultsWriter(dir.file('a.ndjson'));
    const b = createResultsWriter(dir.file('b.ndjson'));
    const both = createMetrics();
    for (let i = 0; i < 300; i++) {
      const r = sample(i);
      (i < 200 ? a : b).write(r);
      both.add(r);
    }
    await a.close();
    await b.close();
    const merged = createMetrics();
    await readResults([dir.file('a.ndjson'), dir.file('b.ndjson')], (r) => merged.add(r));
    const m = merged.close();
    assert.equal(m.requests, 300);
    assert.deepEqual(m.statusCodes, { '200': 199, '502': 100 });
    assert.deepEqual(m.errors, { ECONNRESET: 1 });
    assert.equal(m.bytesIn, 3300);
    assert.equal(m.bytesOut, 900);
    assert.deepEqual(m.statusCodes, both.close().statusCodes);
  } finally {
    await dir.close();
  }
});
