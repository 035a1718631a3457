/**
 * Walks every option of every command, as commander defines it, against the README's
 * "Conventions" table: durations, rates and sizes parse the one grammar, every command has
 * `--json` and an `Exit status:`, the help speaks in one voice, and the table's command lists are
 * exactly the commands that have such options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Command, Option } from 'commander';
import { createProgram } from '../../src/cli/main.js';
import { conventionOf } from '../../src/cli/options.js';
import type { CliContext } from '../../src/cli/context.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The table's rows: concept → { rule, commands (the backticked names of the third column), all }. */
function conventionsTable(): Map<string, { rule: string; commands: Set<string>; all: boolean; cell: string }> {
  const section = /<!-- conventions:start -->\n([\s\S]*?)<!-- conventions:end -->/.exec(README)?.[1];
  assert.ok(section, 'README has the conventions table');
  const rows = new Map<string, { rule: string; commands: Set<string>; all: boolean; cell: string }>();
  for (const line of section.trim().split('\n').slice(2)) {
    const [, concept, rule, cell] = line.split(/\s*\|\s*/);
    rows.set(concept!, {
      rule: rule!,
      cell: cell!,
      all: cell === 'all',
      commands: new Set([...cell!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!)),
    });
  }
  return rows;
}

function program(): Command {
  const sink = new PassThrough();
  const ctx: CliContext = {
    stdout: sink,
    stderr: sink,
    signal: new AbortController().signal,
    own: (r) => r,
    exitCode: 0,
  };
  return createProgram(ctx);
}

const commands = program().commands.filter((c) => c.name() !== 'help');
const visible = (c: Command): readonly Option[] => c.options.filter((o) => !o.hidden);
const parse = (o: Option, value: string): unknown =>
  (o.parseArg as (v: string, p: unknown) => unknown)(value, undefined);
const helpOf = (c: Command): string => {
  let out = '';
  c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  c.outputHelp();
  return out;
};

test('the table has a row for every shared concept', () => {
  assert.deepEqual(
    [...conventionsTable().keys()],
    ['duration', 'rate', 'size', 'socket', 'output', 'exit codes', 'JSON schema names', 'names', 'short flags', 'help'],
  );
});

test('durations: every duration option of every command parses 1m30s, 1.5 (seconds) and 250ms, and refuses the rest; the table lists exactly their commands', () => {
  const withDurations = new Set<string>();
  for (const c of commands) {
    for (const o of c.options) {
      // An option about time must be a duration: no `<ms>`, `<seconds>`, `<time>` placeholders left (hidden old spellings aside).
      if (!o.hidden && /timeout|duration|interval|idle$|bucket|watch|close-after|^--work$/.test(o.long ?? '')) {
        assert.equal(conventionOf(o), 'duration', `${c.name()} ${o.flags} is about time but not a <duration>`);
      }
      if (conventionOf(o) !== 'duration') continue;
      if (!o.hidden) withDurations.add(c.name());
      const name = `${c.name()} ${o.flags}`;
      assert.equal(parse(o, '1m30s'), 90_000, name);
      assert.equal(parse(o, '1.5'), 1500, `${name}: a bare number is seconds`);
      assert.equal(parse(o, '250ms'), 250, name);
      assert.equal(parse(o, '1h'), 3_600_000, name);
      assert.equal(parse(o, '2h0m1s'), 7_201_000, name);
      for (const bad of ['soon', '-5s', '5 parsecs', '1d', '', '9999h'])
        assert.throws(() => parse(o, bad), /expected a duration/, `${name} took ${bad}`);
      assert.match(o.description, /^[a-z]/, name);
    }
  }
  assert.deepEqual([...withDurations].sort(), [...conventionsTable().get('duration')!.commands].sort());
});

test('rates and sizes: one grammar each, and the table lists exactly their commands', () => {
  const seen = { rate: new Set<string>(), size: new Set<string>() };
  for (const c of commands) {
    for (const o of visible(c)) {
      const kind = conventionOf(o);
      if (kind === 'rate') {
        seen.rate.add(c.name());
        assert.equal(parse(o, '6000/1m'), 100, `${c.name()} ${o.flags}`);
        assert.equal(parse(o, '5'), 5);
        assert.equal(parse(o, '1/100ms'), 10);
        assert.throws(() => parse(o, 'fast'), /expected a rate/);
      } else if (kind === 'size') {
        seen.size.add(c.name());
        assert.equal(parse(o, '512k'), 524_288, `${c.name()} ${o.flags}`);
        assert.equal(parse(o, '10m'), 10 * 1024 * 1024);
        assert.equal(parse(o, '1000'), 1000);
        assert.throws(() => parse(o, '10 parsecs'), /expected a size/);
      }
      // No option takes a bare `<ms>`, `<seconds>` or `<bytes>`: the unit is the grammar's.
      assert.doesNotMatch(o.flags, /<(ms|seconds|bytes)>/, `${c.name()} ${o.flags}`);
    }
  }
  const table = conventionsTable();
  assert.deepEqual([...seen.rate].sort(), [...table.get('rate')!.commands].sort());
  assert.deepEqual([...seen.size].sort(), [...table.get('size')!.commands].sort());
});

test('sockets: --unix-socket <path> is the one spelling, on the commands the table names', () => {
  const withSocket = commands.filter((c) => c.options.some((o) => o.long === '--unix-socket')).map((c) => c.name());
  for (const c of commands)
    for (const o of c.options)
      if (/unix-socket/.test(o.long ?? ''))
        assert.equal(o.flags.replace(/^-\w, /, ''), '--unix-socket <path>', `${c.name()} ${o.flags}`);
  assert.deepEqual(withSocket.sort(), [...conventionsTable().get('socket')!.commands].sort());
});

test('output: every command has --json; --output, --html and --out are on the commands the table names', () => {
  const output = conventionsTable().get('output')!;
  for (const c of commands)
    assert.ok(
      c.options.some((o) => o.long === '--json' && !o.hidden),
      `${c.name()} has --json`,
    );
  const holders = (flag: string): string[] =>
    commands
      .filter((c) => c.options.some((o) => o.long === flag))
      .map((c) => c.name())
      .sort();
  const listed = (flag: string): string[] =>
    [...(new RegExp(`\`${flag}\`: ([^;]+)`).exec(output.cell)?.[1] ?? '').matchAll(/`([a-z]+)`/g)]
      .map((m) => m[1]!)
      .sort();
  assert.equal(/`--json`: all/.test(output.cell), true);
  for (const flag of ['--output', '--html', '--out']) assert.deepEqual(holders(flag), listed(flag), flag);
  for (const c of commands)
    for (const o of c.options.filter((x) => ['--output', '--html'].includes(x.long ?? '')))
      assert.match(o.flags, /<file>$/, `${c.name()} ${o.flags}`);
});

test('exit codes: every command states its exit status, 0 and 2 always, in the same words for bad input', () => {
  for (const c of commands) {
    const help = helpOf(c);
    const section = /\nExit status:\n((?: {2}\d+ .*\n?)+)/.exec(help)?.[1];
    assert.ok(section, `${c.name()} --help has an Exit status: section`);
    assert.match(section, /^ {2}0 /m, c.name());
    assert.match(section, /^ {2}2 bad input/m, c.name());
    assert.match(section, /^ {2}70 a bug of badgateway/m, c.name());
  }
});

test('JSON schema names: each command names its schema in its --json description, as the table says', () => {
  const names = [
    ...conventionsTable()
      .get('JSON schema names')!
      .rule.matchAll(/`([a-z.]+)`/g),
  ].map((m) => m[1]!);
  for (const c of commands) {
    const json = c.options.find((o) => o.long === '--json')!;
    const schema = /schema (badgateway\.[a-z.]+\/v1)/.exec(json.description)?.[1];
    assert.ok(schema, `${c.name()} --json names its schema: ${json.description}`);
    const name = schema.replace(/^badgateway\./, '').replace(/\/v1$/, '');
    assert.ok(names.includes(name), `${name} is in the table`);
  }
});

test('names: one meaning per name; renamed options are hidden and named in the table', () => {
  const names = conventionsTable().get('names')!.rule;
  const meanings = new Map<string, string>();
  for (const c of commands) {
    for (const o of c.options) {
      if (o.hidden) {
        assert.match(o.description, /^deprecated: use --[a-z-]+$/, `${c.name()} ${o.flags}`);
        assert.ok(names.includes(`\`${o.long}\``), `the table names ${c.name()} ${o.long}`);
        continue;
      }
      // The same long name takes the same kind of value everywhere (an address, a count, a switch …).
      const kind = `${o.required ? 'value' : o.optional ? 'optional' : 'switch'}:${conventionOf(o) ?? ''}`;
      const key = o.long ?? '';
      if (
        [
          '--port',
          '--json',
          '--bucket',
          '--unix-socket',
          '--html',
          '--proxy',
          '--upstream',
          '--keepalive',
          '--app',
        ].includes(key)
      ) {
        const before = meanings.get(key);
        if (before) assert.equal(kind, before, `${key} means one thing (${c.name()})`);
        meanings.set(key, kind);
      }
    }
  }
  // --upstream is an address wherever it appears; lab's app kind is --app.
  const lab = commands.find((c) => c.name() === 'lab')!;
  assert.ok(visible(lab).some((o) => o.long === '--app'));
  assert.ok(!visible(lab).some((o) => o.long === '--upstream'));
  const proxy = commands.find((c) => c.name() === 'proxy')!;
  assert.ok(!visible(proxy).some((o) => o.long === '--keepalive'), 'a pool is --upstream-keepalive');
});

test('short flags: load has -r -d -c -n -H -X, each listed in its --help', () => {
  const load = commands.find((c) => c.name() === 'load')!;
  const help = helpOf(load);
  for (const [short, long] of [
    ['-r', '--rate'],
    ['-d', '--duration'],
    ['-c', '--connections'],
    ['-n', '--requests'],
    ['-H', '--header'],
    ['-X', '--method'],
  ]) {
    const o = load.options.find((x) => x.short === short);
    assert.equal(o?.long, long, short);
    assert.match(help, new RegExp(`^ {2}${short}, ${long} `, 'm'));
  }
  assert.deepEqual([...conventionsTable().get('short flags')!.commands], ['load']);
});

test('help: one voice — lowercase descriptions without a final period, examples with $, no leftover defaults', () => {
  const all = [program(), ...commands];
  for (const c of all) {
    const name = c.name();
    assert.match(c.description(), /^[a-z]/, `${name} description`);
    assert.doesNotMatch(c.description(), /\.$/, `${name} description ends without a period`);
    for (const o of visible(c)) {
      assert.match(o.description, /^[a-z]/, `${name} ${o.flags}`);
      assert.doesNotMatch(o.description, /\.$/, `${name} ${o.flags}`);
    }
    const help = helpOf(c);
    assert.doesNotMatch(
      help,
      /\(default\) \(default: true\)|\(default: \[\]\)|from 0 to any|run\(s\)|\(s\) /,
      `${name} --help`,
    );
    const examples = /\nExamples:\n([\s\S]*?)(?:\n\n[A-Z]|$)/.exec(help)?.[1];
    assert.ok(examples, `${name} --help has Examples:`);
    for (const line of examples.split('\n')) {
      if (line.trim() === '' || /^ {2}#/.test(line) || !/^ {2}\S/.test(line)) continue;
      assert.match(line, /^ {2}\$ /, `${name} example: ${line}`);
    }
  }
});
