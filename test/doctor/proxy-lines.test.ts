import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { classifyProxyLogLine } from '../../src/causes/index.js';
import { summarizeErrorLogs } from '../../src/doctor/index.js';

// Recorded from real nginx 1.22.1 by the proxy's table test: `# case: client got …` then its lines.
const LINES = new URL('../../../test/fixtures/nginx-error-lines.txt', import.meta.url).pathname;

/** Case → the pattern and client status of its line(s). */
const EXPECTED: Record<string, [string, number | null]> = {
  'upstream-down-tcp': ['connect-refused', 502],
  'upstream-down-unix-missing': ['connect-enoent', 502],
  'upstream-down-unix-stale': ['connect-refused', 502],
  'socket-permission': ['connect-eacces', 502],
  'backlog-full-unix': ['connect-eagain', 502],
  'backlog-full-tcp': ['connect-timeout', 504],
  'slow-upstream': ['read-timeout', 504],
  'reset-before-header': ['recv-reset', 502],
  'reset-mid-body': ['body-reset', null],
  'close-before-header': ['premature-close', 502],
  'keepalive-race-get': ['premature-close', 502],
  'keepalive-race-get-next-upstream-off': ['premature-close', 502],
  'keepalive-race-post': ['premature-close', 502],
  'keepalive-race-post-rst': ['recv-reset', 502],
};

test('no line recorded from real nginx (proxy and causes recordings) is an unknown upstream error; the proxy cases classify as their pattern', async () => {
  const text = await readFile(LINES, 'utf8');
  let current = '';
  const seen = new Set<string>();
  let lines = 0;
  for (const line of text.split('\n')) {
    const header = /^# ([\w-]+): client got/.exec(line);
    if (header) current = header[1]!;
    if (line.startsWith('#') || line === '') continue;
    const c = classifyProxyLogLine(line);
    // Some recorded lines are no upstream error ([warn] a client request body is buffered …).
    if (c) lines += 1;
    assert.notEqual(c?.patternId, 'unknown-upstream-error', `${current}: ${line}`);
    const expected = EXPECTED[current];
    if (expected) {
      assert.deepEqual([c?.patternId, c?.status], expected, `${current}: ${line}`);
      seen.add(current);
    }
  }
  assert.deepEqual([...seen].sort(), Object.keys(EXPECTED).sort());
  const s = await summarizeErrorLogs([LINES]);
  assert.equal(s.lines.unknownUpstream, 0);
  assert.equal(s.lines.upstreamErrors, lines);
});
