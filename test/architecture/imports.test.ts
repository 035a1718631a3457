/**
 * The shape of the code, checked: the import graph over src/ and bench/ (read with the TypeScript
 * compiler's parser, no build needed) has no cycle, areas meet only through their index, nothing
 * in src/ reaches into src/testing/, and functions stay short unless they say why.
 * See docs/architecture.md for the areas and the direction of imports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** Longest function body (in lines) that needs no stated reason. */
const MAX_FUNCTION_LINES = 80;
/** What a longer function's doc comment says, with its reason. */
const LONG_MARKER = 'Long on purpose:';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  to: string;
  /** `import type` / `export type`: erased at run time. */
  typeOnly: boolean;
}

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
}

/** Relative imports and re-exports of `path` (static and dynamic), resolved to .ts files. */
function importsOf(path: string, source: ts.SourceFile): Import[] {
  const out: Import[] = [];
  const add = (specifier: string, typeOnly: boolean): void => {
    if (!specifier.startsWith('.')) return;
    out.push({ from: path, to: resolve(dirname(path), specifier).replace(/\.js$/, '.ts'), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** `src/<area>/…` → area; `src/index.ts` → '(package)'; `bench/…` → 'bench'. */
function areaOf(path: string): string {
  const [top, second, third] = relative(ROOT, path).split('/');
  if (top !== 'src') return top!;
  return third === undefined ? '(package)' : second!;
}

const isIndex = (path: string): boolean => /\/src\/[^/]+\/index\.ts$/.test(path);
const show = (path: string): string => relative(ROOT, path);

const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'bench'))];
const sources = new Map(files.map((f) => [f, parse(f)]));
const imports = files.flatMap((f) => importsOf(f, sources.get(f)!));

/** The cycles of a graph (each as a path that returns to its start), by depth-first search. */
function findCycles(edges: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

function graph(pairs: [string, string][]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const [a, b] of pairs) {
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return edges;
}

test('no import cycle between modules (type-only imports included)', () => {
  const cycles = findCycles(graph(imports.map((i) => [i.from, i.to])));
  assert.deepEqual(
    cycles.map((c) => c.map(show).join(' → ')),
    [],
  );
});

test('no cycle between areas: imports flow one way (docs/architecture.md)', () => {
  const cycles = findCycles(graph(imports.filter((i) => !i.typeOnly).map((i) => [areaOf(i.from), areaOf(i.to)])));
  assert.deepEqual(
    cycles.map((c) => c.join(' → ')),
    [],
  );
});

test('an area reaches another only through its index; src/testing only from benchmarks (and tests); nothing reaches into test/', () => {
  const wrong = imports.filter((i) => {
    const from = areaOf(i.from);
    const to = areaOf(i.to);
    if (from === to) return false;
    if (to === 'testing' && from !== 'bench') return true;
    if (!i.to.startsWith(join(ROOT, 'src'))) return true; // src/ or bench/ reaching into test/
    return to !== '(package)' && !isIndex(i.to);
  });
  assert.deepEqual(
    wrong.map((i) => `${show(i.from)} → ${show(i.to)}`),
    [],
  );
});

/** Name of a function-like node, for the report. */
function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText();
  return '(anonymous)';
}

/** The doc comments over a function: its own, or its variable statement's for an arrow function. */
function docOf(node: ts.Node, source: ts.SourceFile): string {
  let holder: ts.Node = node;
  while (
    holder.parent &&
    (ts.isVariableDeclaration(holder.parent) ||
      ts.isVariableDeclarationList(holder.parent) ||
      ts.isVariableStatement(holder.parent))
  )
    holder = holder.parent;
  const ranges = ts.getLeadingCommentRanges(source.text, holder.getFullStart()) ?? [];
  return ranges.map((r) => source.text.slice(r.pos, r.end)).join('\n');
}

test(`no function in src/ over ${MAX_FUNCTION_LINES} lines unless its doc comment says why ("${LONG_MARKER} …")`, () => {
  const long: string[] = [];
  for (const [path, source] of sources) {
    if (!path.startsWith(join(ROOT, 'src'))) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const lines =
          source.getLineAndCharacterOfPosition(node.body.getEnd()).line -
          source.getLineAndCharacterOfPosition(node.body.getStart()).line +
          1;
        if (lines > MAX_FUNCTION_LINES && !docOf(node, source).includes(LONG_MARKER))
          long.push(`${show(path)}: ${nameOf(node as ts.FunctionLikeDeclaration)} (${lines} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, []);
});
