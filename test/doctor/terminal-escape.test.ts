/**
 * A crafted log cannot drive the terminal: doctor's text output shows the control characters of
 * the lines it quotes (ESC, OSC … BEL, the one-byte CSI, bidi overrides) as escapes, like nginx
 * escapes its own logs; --json stays valid JSON with them escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { runCli } from '../../src/testing/index.js';
import { createTempDir } from '../../src/util/index.js';
import { escapeForTerminal } from '../../src/doctor/index.js';

const HOSTILE = 'GET /\x1b]0;pwned\x07\x1b[31mred\x9b2J HTTP/1.1';
const line = (n: number): string =>
  `2026/11/30 21:48:3${n} [error] 7374#7374: *${n} connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, ` +
  `server: localhost, request: "${HOSTILE}", upstream: "http://127.0.0.1:1/\x1b[2J", host: "a\u202eexe.txt"`;

test('escapeForTerminal: C0 (but newline), DEL, C1 and bidi overrides become visible escapes', () => {
  assert.equal(
    escapeForTerminal('a\x1b[31mb\x07c\x9bd\u202ee\tf\ng\x7f'),
    'a\\x1B[31mb\\x07c\\x9Bd\\u{202E}e\\x09f\ng\\x7F',
  );
  assert.equal(escapeForTerminal('plain — text ✓'), 'plain — text ✓');
});

test('doctor --nginx-error-log on a crafted log prints no raw control character', { timeout: 20_000 }, async () => {
  const dir = await createTempDir('esc');
  try {
    const file = dir.file('error.log');
    await writeFile(file, `${[1, 2, 3].map(line).join('\n')}\n`, 'utf8');
    const text = await runCli(['doctor', '--nginx-error-log', file]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /upstream-down/);
    assert.doesNotMatch(text.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, 'no raw control character');
    assert.match(text.stdout, /\\x1B\]0;pwned\\x07\\x1B\[31mred\\x9B2J/, 'the request line is quoted, escaped');
    const json = await runCli(['doctor', '--nginx-error-log', file, '--json']);
    const report = JSON.parse(json.stdout) as { findings: { cause: string }[] };
    assert.ok(report.findings.some((f) => f.cause === 'upstream-down'));
  } finally {
    await dir.close();
  }
});
