/**
 * What `npm pack` ships: the license, no source map that points at a file left out, no tests; and
 * the scripts: the tarball is built in `prepack`, while `npm install` in a fresh clone still builds
 * `dist/` (README's first command) and does nothing once it is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTempDir } from '../src/util/index.js';
import { runCommand } from '../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  scripts: Record<string, string>;
  files: string[];
};

/** The files `npm pack` would put in the tarball (scripts not run: the build is in place). */
async function packedFiles(): Promise<string[]> {
  const r = await runCommand('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const [entry] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { files: { path: string }[] }[];
  return entry!.files.map((f) => f.path);
}

test('the tarball has the MIT license, the built package, its sources, and no tests', { timeout: 90_000 }, async () => {
  const files = await packedFiles();
  assert.equal(pkg.license, 'MIT');
  assert.ok(files.includes('LICENSE'));
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} /);
  for (const needed of [
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/guard/index.js',
    'dist/src/cli/bin.js',
    'src/index.ts',
    'mixin/prometheus_alerts.yaml',
    'docs/architecture.md',
  ]) {
    assert.ok(files.includes(needed), `${needed} is packed`);
  }
  assert.deepEqual(
    files.filter((f) => /^(dist\/)?(test|bench)\//.test(f)),
    [],
    'no tests or benchmarks',
  );
});

test('every source map in the tarball points at sources the tarball has (or carries them)', {
  timeout: 90_000,
}, async () => {
  const files = await packedFiles();
  const packed = new Set(files);
  const maps = files.filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 50, `${maps.length} maps`);
  const missing: string[] = [];
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    sources.forEach((source, i) => {
      if (typeof sourcesContent?.[i] === 'string') return;
      const target = normalize(join(dirname(map), source));
      if (!packed.has(target)) missing.push(`${map} → ${target}`);
    });
  }
  assert.deepEqual(missing, []);
});

test('the build runs in prepack; prepare builds a fresh clone (no dist/ yet) or changed sources, nothing else', {
  timeout: 60_000,
}, async () => {
  assert.equal(pkg.scripts['prepack'], 'npm run build');
  await using dir = await createTempDir('pack');
  // A copy of the scripts with a build that leaves a mark instead of compiling.
  writeFileSync(
    dir.file('package.json'),
    JSON.stringify({
      name: 'x',
      version: '1.0.0',
      scripts: { prepare: pkg.scripts['prepare'], build: 'mkdir -p dist/src/cli && echo built > dist/src/cli/bin.js' },
    }),
  );
  mkdirSync(dir.file('src'));
  writeFileSync(dir.file('src/a.ts'), 'export {};\n');
  writeFileSync(dir.file('tsconfig.json'), '{}\n');
  const old = new Date(Date.now() - 60_000);
  for (const f of ['src/a.ts', 'tsconfig.json', 'src']) utimesSync(dir.file(f), old, old);
  const fresh = await runCommand('npm', ['run', 'prepare', '--prefix', dir.path], { timeoutMs: 30_000 });
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal(readFileSync(dir.file('dist/src/cli/bin.js'), 'utf8'), 'built\n', 'a fresh clone is built');
  mkdirSync(dir.file('dist/src/cli'), { recursive: true });
  writeFileSync(dir.file('dist/src/cli/bin.js'), 'already here\n');
  const again = await runCommand('npm', ['run', 'prepare', '--prefix', dir.path], { timeoutMs: 30_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    readFileSync(dir.file('dist/src/cli/bin.js'), 'utf8'),
    'already here\n',
    'an existing build is left alone',
  );
  // A source changed since (a pull): built again.
  writeFileSync(dir.file('src/a.ts'), 'export const a = 1;\n');
  utimesSync(dir.file('src/a.ts'), new Date(Date.now() + 5000), new Date(Date.now() + 5000));
  const changed = await runCommand('npm', ['run', 'prepare', '--prefix', dir.path], { timeoutMs: 30_000 });
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(readFileSync(dir.file('dist/src/cli/bin.js'), 'utf8'), 'built\n', 'changed sources are built');
});
