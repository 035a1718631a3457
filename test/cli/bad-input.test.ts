/**
 * Bad input, through the real binary, one row per case: the command, its exit status, the first
 * line of stderr, and never a stack trace. The cases of a non-root user (a port below 1024, a
 * process doctor may not inspect) run the CLI as `nobody` with setpriv; they are skipped, with the
 * reason, where that cannot work.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, chmodSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findNginx } from '../../src/proxy/index.js';
import { createTempDir, which, type TempDir } from '../../src/util/index.js';
import { BIN, runCli, runCommand, type CliResult } from '../../src/testing/index.js';

interface Row {
  /** What the row proves, in a few words. */
  name: string;
  args: () => string[];
  exit: number;
  /** The first line of stderr, exactly (a string) or matched. */
  first: string | RegExp | (() => string);
  /** Run as the unprivileged user `nobody`. */
  asNobody?: boolean;
  /** Why the row cannot run here, if it cannot. */
  skip?: () => string | false;
  /** More checks of the whole result. */
  also?: (r: CliResult) => void;
  input?: string;
}

const SETPRIV = which('setpriv');
const README = new URL('../../../README.md', import.meta.url).pathname;

/** Why the CLI cannot run as nobody here, or false. */
function nobodyUnavailable(): string | false {
  if (process.getuid?.() !== 0)
    return 'not root: the test needs root to switch to nobody (as a non-root user the plain run is the case)';
  if (!SETPRIV) return 'setpriv (util-linux) is not installed';
  // nobody must be able to reach the node binary and the compiled CLI.
  for (const path of [process.execPath, BIN]) {
    const r = runCheck(path);
    if (r) return r;
  }
  return false;
}

function runCheck(path: string): string | false {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    return `${path} is not readable`;
  }
  // Every directory above must be searchable by others for nobody to reach it.
  const parts = path.split('/').slice(1, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    try {
      const { mode } = statSync(dir);
      if ((mode & 0o001) === 0) return `${dir} is not searchable by nobody`;
    } catch {
      return `${dir} cannot be read`;
    }
  }
  return false;
}

let dir: TempDir;
let busy: Server;
let busyPort: number;
let rootServer: Server;
let rootPort: number;

before(async () => {
  dir = await createTempDir('bad-input');
  chmodSync(dir.path, 0o755);
  writeFileSync(dir.file('garbage.txt'), 'this is no access log\nnor is this\n');
  writeFileSync(dir.file('empty.ndjson'), '');
  writeFileSync(dir.file('foreign.ndjson'), '{"hello":1}\n');
  mkdirSync(dir.file('a-dir'));
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as AddressInfo).port;
  // A server of this (root) process: nobody may not read its fds, and ss shows nobody no owner.
  rootServer = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => rootServer.listen({ port: 0, host: '127.0.0.1', backlog: 511 }, resolve));
  rootPort = (rootServer.address() as AddressInfo).port;
});

after(async () => {
  busy?.close();
  rootServer?.close();
  await dir?.close();
});

const NO_NGINX = (): string | false => (findNginx() ? false : 'nginx is not installed');

const ROWS: Row[] = [
  // 1. Errors that say what happened.
  {
    name: 'an unknown option is named, not a missing --upstream',
    args: () => ['proxy', '--bogus'],
    exit: 2,
    first: "badgateway proxy: unknown option '--bogus'",
  },
  {
    name: 'a missing required option',
    args: () => ['proxy'],
    exit: 2,
    first: "badgateway proxy: required option '--upstream <url>' not specified",
  },
  {
    name: 'mixin: unknown option first too',
    args: () => ['mixin', '--bogus'],
    exit: 2,
    first: "badgateway mixin: unknown option '--bogus'",
  },
  {
    name: 'builtin proxy on port 81 as a non-root user',
    args: () => ['proxy', '--builtin', '--upstream', '127.0.0.1:1', '--port', '81'],
    exit: 2,
    first: 'badgateway: binding 127.0.0.1:81 needs root (ports below 1024)',
    asNobody: true,
  },
  {
    name: 'nginx on port 81 as a non-root user',
    args: () => ['proxy', '--nginx', '--upstream', '127.0.0.1:1', '--port', '81'],
    exit: 2,
    first: 'badgateway: binding 127.0.0.1:81 needs root (ports below 1024)',
    asNobody: true,
    skip: NO_NGINX,
  },
  {
    name: 'the demo app on port 81 as a non-root user, in the same words',
    args: () => ['app', '--port', '81'],
    exit: 2,
    first: 'badgateway: --port 81: binding 127.0.0.1:81 needs root (ports below 1024)',
    asNobody: true,
  },
  {
    name: 'builtin proxy on a port in use',
    args: () => ['proxy', '--builtin', '--upstream', '127.0.0.1:1', '--port', String(busyPort)],
    exit: 2,
    first: () => `badgateway: 127.0.0.1:${busyPort} is already in use`,
  },
  {
    name: 'nginx on a port in use',
    args: () => ['proxy', '--nginx', '--upstream', '127.0.0.1:1', '--port', String(busyPort)],
    exit: 2,
    first: () => `badgateway: 127.0.0.1:${busyPort} is already in use`,
    skip: NO_NGINX,
  },
  {
    name: 'an old spelling and its new one together',
    args: () => ['proxy', '--upstream', '127.0.0.1:1', '--keepalive', '2', '--upstream-keepalive', '3'],
    exit: 2,
    first: 'badgateway: --keepalive and --upstream-keepalive mean the same: give --upstream-keepalive only',
  },
  {
    name: 'a size that is not one',
    args: () => ['proxy', '--upstream', '127.0.0.1:1', '--client-max-body-size', '10 parsecs'],
    exit: 2,
    first:
      /^badgateway proxy: option '--client-max-body-size <size>' argument '10 parsecs' is invalid\. expected a size/,
  },
  // 2. Verdicts from what doctor could not see.
  {
    name: 'doctor on a file given as a socket',
    args: () => ['doctor', '--unix-socket', README],
    exit: 2,
    first: () => `badgateway: --unix-socket: ${README} is not a socket`,
  },
  {
    name: 'doctor on a directory given as a socket',
    args: () => ['doctor', '--unix-socket', dir.file('a-dir')],
    exit: 2,
    first: () => `badgateway: --unix-socket: ${dir.file('a-dir')} is not a socket`,
  },
  {
    name: 'doctor as a non-root user on a process it may not inspect: incomplete, never healthy',
    args: () => ['doctor', '--port', String(rootPort), '--no-proxy-discovery', '--interval', '0'],
    exit: 2,
    first: () =>
      `badgateway: port ${rootPort}: the process that listens (ss shows other users' processes only to root; doctor runs as a user that may not read it: run it as root or as the process's user, or give --pid)`,
    asNobody: true,
    also: (r) => {
      assert.doesNotMatch(r.stdout, /healthy/);
      assert.match(r.stdout, /^not seen: port \d+: the process that listens/m);
      assert.match(
        r.stdout,
        /^verdict: incomplete — no finding in what doctor could read, but it could not read all of it \(not seen, above\) \(exit 2\)$/m,
      );
    },
  },
  {
    name: 'doctor on an access log in no format it reads',
    args: () => ['doctor', '--access-log', dir.file('garbage.txt')],
    exit: 2,
    first: () =>
      `badgateway: no line of ${dir.file('garbage.txt')} is in a format doctor reads (tried: combined, combined+upstream, json)`,
  },
  {
    name: 'doctor --watch with a duration that is not one',
    args: () => ['doctor', '--watch', 'often'],
    exit: 2,
    first: /^badgateway doctor: option '--watch \[duration\]' argument 'often' is invalid\. expected a duration/,
  },
  // 3. report.
  {
    name: 'report of an empty file',
    args: () => ['report', dir.file('empty.ndjson')],
    exit: 2,
    first: () => `badgateway: ${dir.file('empty.ndjson')} is empty (expected NDJSON from \`badgateway load --output\`)`,
  },
  {
    name: 'report of a file with no result record',
    args: () => ['report', dir.file('foreign.ndjson')],
    exit: 2,
    first: () =>
      `badgateway: ${dir.file('foreign.ndjson')} has no result record in its 1 line (expected NDJSON from \`badgateway load --output\`)`,
  },
  {
    name: 'report of an empty stdin',
    args: () => ['report', '-'],
    input: '',
    exit: 2,
    first: 'badgateway: standard input is empty (expected NDJSON from `badgateway load --output`)',
  },
  {
    name: 'load with the records and the JSON both on stdout',
    args: () => ['load', 'http://127.0.0.1:1/', '--output', '-', '--json'],
    exit: 2,
    first: 'badgateway: --output - and --json both write to stdout: give one of them',
  },
  // 4. Units and names.
  {
    name: 'a duration in days (not a unit)',
    args: () => ['load', 'http://127.0.0.1:1/', '-d', '1d'],
    exit: 2,
    first:
      /^badgateway load: option '-d, --duration <duration>' argument '1d' is invalid\. expected a duration: seconds \(1\.5\) or with units \(250ms, 10s, 1m30s\)/,
  },
  {
    name: 'a rate that is not one',
    args: () => ['load', 'http://127.0.0.1:1/', '-r', 'fast'],
    exit: 2,
    first: /^badgateway load: option '-r, --rate <rate>' argument 'fast' is invalid\. expected a rate/,
  },
  {
    name: 'load on a file given as a socket',
    args: () => ['load', 'http://localhost/', '--unix-socket', README],
    exit: 2,
    first: () => `badgateway: --unix-socket: ${README} is not a socket`,
  },
  {
    name: "lab's app kind",
    args: () => ['lab', '--app', 'tomcat'],
    exit: 2,
    first:
      "badgateway lab: option '--app <kind>' argument 'tomcat' is invalid. Allowed choices are node, gunicorn, uvicorn, gevent.",
  },
  {
    name: "lab's old --upstream spelling checks the kind as --app does",
    args: () => ['lab', '--upstream', 'tomcat'],
    exit: 2,
    first:
      "badgateway lab: option '--upstream <kind>' argument 'tomcat' is invalid. Allowed choices are node, gunicorn, uvicorn, gevent.",
  },
  {
    name: 'app: a duration with a bad unit',
    args: () => ['app', '--keepalive-timeout', '5 minutes'],
    exit: 2,
    first: /^badgateway app: option '--keepalive-timeout <duration>' argument '5 minutes' is invalid/,
  },
  {
    name: 'causes: an unknown cause',
    args: () => ['causes', 'gremlins'],
    exit: 2,
    first:
      /^badgateway causes: command-argument value 'gremlins' is invalid for argument 'id'\. unknown cause; known: fd-exhaustion, /,
  },
  {
    name: 'an unknown command',
    args: () => ['frobnicate'],
    exit: 2,
    first: "badgateway: unknown command 'frobnicate'",
  },
];

describe('bad input: exit status, first line of stderr, no stack trace', { concurrency: 4 }, () => {
  const nobody = nobodyUnavailable();
  for (const row of ROWS) {
    const skip = (row.asNobody && nobody) || row.skip?.() || false;
    test(row.name, { timeout: 30_000, skip: skip ? `${skip}` : false }, async () => {
      const args = row.args();
      const r = row.asNobody
        ? await runCommand(
            SETPRIV!,
            ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN, ...args],
            row.input === undefined ? {} : { input: row.input },
          )
        : await runCli(args, row.input === undefined ? {} : { input: row.input });
      const label = `badgateway ${args.join(' ')}`;
      assert.equal(r.code, row.exit, `${label}: exit ${r.code}\n${r.stderr}`);
      const first = r.stderr.split('\n')[0]!;
      const expected = typeof row.first === 'function' ? row.first() : row.first;
      if (typeof expected === 'string') assert.equal(first, expected, label);
      else assert.match(first, expected, label);
      assert.doesNotMatch(r.stderr, /\n\s+at |internal error|Error:/, `${label}: no stack trace`);
      assert.ok(
        r.stderr.trim().split('\n').length <= 2 || row.asNobody,
        `${label}: one line (and a hint): ${r.stderr}`,
      );
      if (row.also) row.also(r);
      else assert.equal(r.stdout, '', `${label}: nothing on stdout`);
    });
  }
});
