/**
 * The catalogue against what nginx 1.22.1 really writes. First a table: every line of
 * test/fixtures/nginx-error-lines.txt (recorded from real nginx runs by the proxy table test and by
 * this file) classifies as the pattern its case expects, at that pattern's level, and a pattern's
 * status is what the case's client got. Then live: the proxy-side causes are provoked again with a
 * real nginx (hand-written configs: worker_rlimit_nofile, worker_connections, max_fails …) and the
 * client statuses and classified pattern ids must be exactly the recorded ones. Skipped, with the
 * reason printed, only when nginx is missing (the ephemeral-ports case also needs `unshare -n`).
 *
 * BG_RECORD_CAUSES_LINES=FILE writes this run's lines in the fixture's format (warn and above), to
 * be appended to the fixture by hand when a case is added.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { PROXY_LOG_PATTERNS, classifyProxyLogLine } from '../../src/causes/index.js';
import { findNginx } from '../../src/proxy/index.js';
import { SIDE_CASES, type SideCase } from './proxy-side-cases.js';
import { netnsUnavailable, runSideCase, runSideCaseInNetns } from './run-side-case.js';

const FIXTURE = new URL('../../../test/fixtures/nginx-error-lines.txt', import.meta.url);
const patternById = new Map(PROXY_LOG_PATTERNS.map((p) => [p.id, p]));

/** Case → pattern id of each of its fixture lines, in order (`-`: not an upstream error, not classified). */
const FIXTURE_EXPECTED: Record<string, string[]> = {
  // Recorded by test/proxy/table.test.ts.
  'upstream-down-tcp': ['connect-refused'],
  'upstream-down-unix-missing': ['connect-enoent'],
  'upstream-down-unix-stale': ['connect-refused'],
  'socket-permission': ['connect-eacces'],
  'backlog-full-unix': ['connect-eagain'],
  'backlog-full-tcp': ['connect-timeout'],
  'slow-upstream': ['read-timeout'],
  'reset-before-header': ['recv-reset'],
  'reset-mid-body': ['body-reset'],
  'close-before-header': ['premature-close'],
  'keepalive-idle-closed': [],
  'keepalive-race-get': ['premature-close'],
  'keepalive-race-get-next-upstream-off': ['premature-close'],
  'keepalive-race-post': ['premature-close'],
  'keepalive-race-post-rst': ['recv-reset'],
  // Recorded by this file.
  'too-big-header': ['too-big-header'],
  'no-live-upstreams': [
    'connect-refused',
    'upstream-disabled',
    'connect-refused',
    'upstream-disabled',
    'no-live-upstreams',
    'no-live-upstreams',
  ],
  'worker-connections-upstream': ['worker-connections-upstream'],
  'worker-connections-accept': ['worker-connections'],
  'worker-connections-reuse': ['worker-connections-reuse'],
  'proxy-emfile-upstream': ['proxy-emfile-upstream'],
  'proxy-emfile-accept': ['proxy-emfile'],
  'body-timeout': ['body-timeout'],
  'body-premature-close': ['body-premature-close'],
  'body-reset-unbuffered': ['body-reset'],
  'send-timeout': ['-', 'send-timeout'],
  'send-timeout-unbuffered': ['send-timeout'],
  'send-reset-blocked': ['-', 'recv-reset'],
  'send-reset': ['-', 'send-failed'],
  'send-broken-pipe': ['-', 'send-failed'],
  'send-reset-sendfile': ['-', 'send-failed'],
  'ephemeral-ports': ['connect-eaddrnotavail'],
};

/**
 * Cases whose client never saw a line's status: nginx retried on a fresh connection
 * (proxy_next_upstream) and the retry answered.
 */
const RETRIED = new Set(['keepalive-race-get']);

interface FixtureCase {
  id: string;
  outcomes: string[];
  lines: string[];
}

function readFixture(): FixtureCase[] {
  const cases: FixtureCase[] = [];
  for (const line of readFileSync(FIXTURE, 'utf8').split('\n')) {
    const header = /^# ([a-z0-9-]+): client got (.*)$/.exec(line);
    if (header) cases.push({ id: header[1]!, outcomes: header[2]!.split(', '), lines: [] });
    else if (line && !line.startsWith('#')) {
      assert.ok(cases.length > 0, `fixture line before any case header: ${line}`);
      cases.at(-1)!.lines.push(line);
    }
  }
  return cases;
}

describe('recorded nginx lines (fixture)', () => {
  test('every line classifies as its case expects, at the pattern’s level; statuses match the clients', () => {
    const cases = readFixture();
    assert.deepEqual(
      cases.map((c) => c.id).sort(),
      Object.keys(FIXTURE_EXPECTED).sort(),
      'the fixture has exactly these cases',
    );
    for (const c of cases) {
      const ids = c.lines.map((line) => classifyProxyLogLine(line)?.patternId ?? '-');
      assert.deepEqual(ids, FIXTURE_EXPECTED[c.id], `${c.id}:\n${c.lines.join('\n')}`);
      for (const line of c.lines) {
        const k = classifyProxyLogLine(line);
        if (!k) continue;
        const pattern = patternById.get(k.patternId)!;
        assert.equal(k.level, pattern.level, `${pattern.id}: nginx wrote [${k.level}]`);
        if (pattern.status !== null && !RETRIED.has(c.id)) {
          assert.ok(
            c.outcomes.includes(String(pattern.status)),
            `${c.id}: ${pattern.id} says ${pattern.status}, the client got ${c.outcomes.join(', ')}`,
          );
        }
      }
    }
  });

  test('every pattern has a recorded example, and the fixture holds that very line', () => {
    const all = new Set(readFixture().flatMap((c) => c.lines));
    for (const p of PROXY_LOG_PATTERNS) {
      if (p.recorded) assert.ok(all.has(p.example), `${p.id}: example is not a fixture line`);
    }
    // Every pattern was provoked here: none is left with source wording only.
    assert.deepEqual(
      PROXY_LOG_PATTERNS.filter((p) => !p.recorded).map((p) => p.id),
      [],
    );
  });

  test('every proxy-side case is in the fixture with its expected client outcomes', () => {
    const byId = new Map(readFixture().map((c) => [c.id, c]));
    for (const c of SIDE_CASES) assert.deepEqual(byId.get(c.id)?.outcomes, c.expected.outcomes, c.id);
  });
});

const NGINX = findNginx();
const NETNS = NGINX ? netnsUnavailable() : undefined;
const recordTo = process.env['BG_RECORD_CAUSES_LINES'];
const recorded: string[] = [];

/**
 * Pattern ids in log order, written the way `expected` writes them: a run of an id expected as
 * `id+` collapsed to one `id+`; an id that is one side of an expected `a|b` replaced by `a|b`.
 */
function matchPatterns(ids: string[], expected: string[]): string[] {
  const repeatable = new Set(expected.filter((e) => e.endsWith('+')).map((e) => e.slice(0, -1)));
  const either = new Map(expected.flatMap((e) => (e.includes('|') ? e.split('|').map((id) => [id, e] as const) : [])));
  const out: string[] = [];
  for (const id of ids) {
    if (repeatable.has(id)) {
      if (out.at(-1) !== `${id}+`) out.push(`${id}+`);
    } else out.push(either.get(id) ?? id);
  }
  return out;
}

describe('proxy-side causes provoked with real nginx', { concurrency: false }, () => {
  if (!NGINX) console.log('# skipping the live nginx cases: nginx is not installed (apt-get install nginx-light)');
  else if (NETNS) console.log(`# skipping the ephemeral-ports case: ${NETNS}`);
  for (const c of SIDE_CASES) {
    const skip = !NGINX ? 'nginx is not installed' : c.netns && NETNS ? NETNS : false;
    test(c.id, { skip, timeout: 15_000 }, async () => {
      const seen = await (c.netns ? runSideCaseInNetns(c) : runSideCase(c));
      const ids = seen.lines.map((l) => classifyProxyLogLine(l)?.patternId).filter((id) => id !== undefined);
      assert.deepEqual(seen.outcomes, c.expected.outcomes, 'what the clients got');
      assert.deepEqual(
        matchPatterns(ids, c.expected.patterns),
        c.expected.patterns,
        `error log:\n${seen.lines.join('\n')}`,
      );
      if (recordTo) record(c, seen.outcomes, seen.lines);
    });
  }
  after(() => {
    if (recordTo) writeFileSync(recordTo, `${recorded.join('\n')}\n`);
  });
});

function record(c: SideCase, outcomes: string[], lines: string[]): void {
  recorded.push(
    `# ${c.id}: client got ${outcomes.join(', ')}`,
    ...lines.filter((l) => !/ \[(?:notice|info|debug)\] /.test(l)),
  );
}
