/**
 * Every `ts`/`js` code block of the README is compiled (strict, as the package itself) against the
 * built package, imported by its name `badgateway`, and run. A block is left out only when the
 * line before its fence says so with a reason: `<!-- readme-test: fragment (why) -->`. A block
 * marked `<!-- readme-test: server (why) -->` is a server: it must come up, listen and answer
 * `GET /`, then stop on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { readListenSockets } from '../../src/proc/index.js';
import { waitFor } from '../../src/util/index.js';
import { runCommand } from '../../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  /** Line of the opening fence in README.md (1-based). */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  kind: 'run' | 'server' | 'fragment';
  reason: string;
}

/** The README's ts/js fenced blocks, each with what the line before its fence says about it. */
function readmeBlocks(): Block[] {
  const lines = README.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `README.md:${i + 1}: the block is closed`);
    const mark = /^<!-- readme-test: (fragment|server) \((.+)\) -->$/.exec(lines[i - 1] ?? '');
    blocks.push({
      line: i + 1,
      lang: fence[1]!.startsWith('t') ? 'ts' : 'js',
      code: lines.slice(i + 1, end).join('\n'),
      kind: (mark?.[1] as Block['kind'] | undefined) ?? 'run',
      reason: mark?.[2] ?? '',
    });
    i = end;
  }
  return blocks;
}

/** Compiles the blocks as one program with the project's compiler options; returns the diagnostics. */
function compile(files: string[], outDir: string): string[] {
  const configPath = join(ROOT, 'tsconfig.json');
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, ROOT);
  const options: ts.CompilerOptions = {
    ...config.options,
    rootDir: dirname(files[0]!),
    outDir,
    declaration: false,
    sourceMap: false,
    allowJs: true,
    checkJs: true,
    noEmitOnError: true,
  };
  const program = ts.createProgram(files, options);
  const emitted = program.emit();
  return [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => {
    const where =
      d.file && d.start !== undefined
        ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `
        : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

test('README: every ts/js block compiles and runs, or says why it does not', { timeout: 300_000 }, async (t) => {
  const blocks = readmeBlocks();
  assert.ok(blocks.length >= 6, `found ${blocks.length} blocks`);
  const runnable = blocks.filter((b) => b.kind !== 'fragment');
  for (const b of blocks.filter((x) => x.kind === 'fragment'))
    t.diagnostic(`README.md:${b.line}: left out, ${b.reason}`);
  // Inside the package (dist/): the blocks import it by its own name, as a user would.
  const dir = join(ROOT, 'dist', 'readme-blocks');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  try {
    const files = runnable.map((b) => {
      const file = join(dir, 'src', `readme-${b.line}.${b.lang}`);
      writeFileSync(file, `${b.code}\nexport {};\n`);
      return file;
    });
    assert.deepEqual(compile(files, join(dir, 'out')), [], 'the blocks compile');
    for (const b of runnable) {
      const file = join(dir, 'out', `readme-${b.line}.js`);
      if (b.kind === 'server') {
        await checkServer(file, b);
        continue;
      }
      const r = await runCommand(process.execPath, [file], { timeoutMs: 180_000, cwd: ROOT, env: { PORT: '0' } });
      t.diagnostic(`README.md:${b.line}: ${r.stdout.trim().split('\n').join(' | ').slice(0, 300)}`);
      assert.equal(r.code, 0, `README.md:${b.line} exited ${r.code ?? r.signal}: ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A server block comes up, listens, answers `GET /` with 200, and stops on SIGTERM. */
async function checkServer(file: string, b: Block): Promise<void> {
  const child = spawn(process.execPath, [file], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    const port = await waitFor(
      `README.md:${b.line} to listen`,
      async () => {
        assert.equal(child.exitCode, null, `README.md:${b.line} exited early: ${stderr}`);
        return (await readListenSockets({})).find((s) => s.pid === child.pid && s.port !== undefined)?.port;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200, `README.md:${b.line} answers`);
    assert.equal(await res.text(), 'ok');
    assert.equal(stderr, '');
  } finally {
    child.kill('SIGTERM');
  }
  assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' });
}
