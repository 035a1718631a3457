/** Every command's --json output names its schema, `badgateway.<name>/v1`, as the README's Conventions table lists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTempDir } from '../../src/util/index.js';
import { runCli, startCli } from '../../src/testing/index.js';
import { startServer } from '../load/servers.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const ERROR_LOG = fileURLToPath(new URL('../../../test/doctor/fixtures/nginx-error.log', import.meta.url));

test('every --json names its schema, and every name is in the Conventions table', { timeout: 60_000 }, async () => {
  const row = /^\| JSON schema names \| (.*) \| all \|$/m.exec(README)?.[1] ?? '';
  const listed = new Set([...row.matchAll(/`([a-z.]+)`/g)].map((m) => m[1]!));
  await using dir = await createTempDir('json');
  const server = await startServer((_req, res) => res.end('ok'));
  try {
    const schemaOf = (text: string): string => (JSON.parse(text) as { schema: string }).schema;
    const results: [string, string][] = [];
    const load = await runCli([
      'load',
      server.url,
      '-r',
      '50',
      '-d',
      '200ms',
      '--output',
      dir.file('r.ndjson'),
      '--json',
    ]);
    assert.equal(load.code, 0, load.stderr);
    results.push(['load', schemaOf(load.stdout)]);
    const [report, causes, list, mixin, doctor] = await Promise.all([
      runCli(['report', dir.file('r.ndjson'), '--json']),
      runCli(['causes', '--json']),
      runCli(['lab', 'list', '--json']),
      runCli(['mixin', '--out', dir.file('mixin'), '--json']),
      runCli(['doctor', '--nginx-error-log', ERROR_LOG, '--no-proxy-discovery', '--json']),
    ]);
    results.push(
      ['load', schemaOf(report.stdout)],
      ['causes', schemaOf(causes.stdout)],
      ['lab.list', schemaOf(list.stdout)],
      ['mixin', schemaOf(mixin.stdout)],
      ['doctor', schemaOf(doctor.stdout)],
    );
    assert.equal((JSON.parse(mixin.stdout) as { files: string[] }).files.length, 4);
    for (const [command, args] of [
      ['app', ['app', '--port', '0', '--json']],
      ['proxy', ['proxy', '--builtin', '--upstream', server.url.replace(/\/$/, ''), '--json']],
    ] as const) {
      const cli = startCli([...args]);
      try {
        const [line] = await cli.waitForLine(/^\{.*\}$/);
        const ready = JSON.parse(line) as { schema: string; url: string; pid: number };
        assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(ready.pid > 0);
        results.push([command, ready.schema]);
      } finally {
        assert.equal((await cli.stop('SIGINT')).code, 0);
      }
    }
    for (const [name, schema] of results) {
      assert.equal(schema, `badgateway.${name}/v1`);
      assert.ok(listed.has(name), `${name} is in the table`);
    }
  } finally {
    await server.close();
  }
});
