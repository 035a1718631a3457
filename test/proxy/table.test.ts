/**
 * The shared table (cases.ts) against real nginx and the built-in proxy: for each failure the
 * client's status and the exact error-log lines (normalised), and both proxies agree because
 * both must equal the same recorded expectation. nginx cases are skipped, with the reason printed,
 * only where nginx is not installed.
 *
 * BG_RECORD_NGINX_LINES=FILE rewrites the fixture of real nginx lines from this run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { findNginx, normalizeErrorLogLine, startProxy, type ProxyHandle } from '../../src/proxy/index.js';
import { parseAccessLogLine } from '../../src/doctor/index.js';
import { waitFor } from '../../src/util/index.js';
import { CASES, type ProxyCase } from './cases.js';

const NGINX = findNginx();
const FIXTURE = new URL('../../../test/fixtures/nginx-error-lines.txt', import.meta.url);
const recordTo = process.env['BG_RECORD_NGINX_LINES'];
const recorded: string[] = [];

interface Observed {
  outcomes: string[];
  rawLines: string[];
  errorLines: string[];
  accessStatuses: number[];
  accessUpstreamStatus: string[];
}

async function runCase(kind: 'nginx' | 'builtin', c: ProxyCase): Promise<Observed> {
  const upstream = await c.setup();
  let proxy: ProxyHandle | undefined;
  try {
    proxy = await startProxy({ kind, ...c.options, upstream: upstream.upstream });
    const outcomes = await c.drive(proxy.url, upstream);
    // Access lines are written when a request ends, possibly just after the client has its answer.
    const access = await waitFor(
      'one access-log line per request',
      async () => {
        const lines = (await proxy!.readAccessLog()).split('\n').filter(Boolean);
        return lines.length >= outcomes.length && lines;
      },
      { timeoutMs: 3000 },
    );
    const rawLines = (await proxy.readErrorLog()).split('\n').filter(Boolean);
    return {
      outcomes,
      rawLines,
      errorLines: rawLines.map((l) => normalizeErrorLogLine(l, upstream.replacements)),
      accessStatuses: access.map((l) => parseAccessLogLine(l)?.status ?? 0),
      accessUpstreamStatus: access.map(
        (l) =>
          parseAccessLogLine(l)
            ?.attempts.map((a) => a.status)
            .join(', ') || '-',
      ),
    };
  } finally {
    await proxy?.close();
    await upstream.close();
  }
}

for (const kind of ['nginx', 'builtin'] as const) {
  describe(`${kind} proxy: upstream failures`, { concurrency: false }, () => {
    if (kind === 'nginx' && !NGINX) {
      // Printed so a skipped run never looks like a passing one.
      console.log('# skipping the nginx proxy cases: nginx is not installed (apt-get install nginx-light)');
    }
    for (const c of CASES) {
      const isRoot = process.getuid?.() === 0;
      const skip =
        kind === 'nginx' && !NGINX
          ? 'nginx is not installed'
          : kind === 'builtin' && c.nginxOnly
            ? c.nginxOnly
            : c.options.user !== undefined && !isRoot
              ? 'nginx switches to a worker user only when started as root'
              : false;
      test(c.id, { skip, timeout: 15_000 }, async () => {
        const seen = await runCase(kind, c);
        assert.deepEqual(seen.outcomes, c.expected.outcomes, 'what the client got');
        assert.deepEqual(seen.errorLines, c.expected.errorLines, `error log:\n${seen.rawLines.join('\n')}`);
        // The access log agrees with the client (a truncated 200 is still logged as 200).
        assert.deepEqual([...seen.accessStatuses].map(String).sort(), seen.outcomes.map((o) => o.split(' ')[0]).sort());
        if (c.expected.accessUpstreamStatus)
          assert.deepEqual(seen.accessUpstreamStatus, c.expected.accessUpstreamStatus, 'access log upstream_status');
        if (kind === 'nginx' && recordTo) {
          recorded.push(
            `# ${c.id}: client got ${seen.outcomes.join(', ')}`,
            ...(seen.rawLines.length ? seen.rawLines.slice(0, 1) : ['# (no error-log line)']),
          );
        }
      });
    }
  });
}

test('the fixture holds one real nginx line per failing case, matching the table', () => {
  if (recordTo)
    writeFileSync(
      recordTo,
      `# nginx 1.22.1 error-log lines recorded by test/proxy/table.test.ts (BG_RECORD_NGINX_LINES)\n${recorded.join('\n')}\n`,
    );
  const text = readFileSync(FIXTURE, 'utf8');
  const byCase = new Map<string, string>();
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^# ([a-z0-9-]+): client got /.exec(line);
    if (header) current = header[1]!;
    else if (line && !line.startsWith('#')) byCase.set(current, line);
  }
  for (const c of CASES) {
    const expected = c.expected.errorLines[0];
    const line = byCase.get(c.id);
    if (expected === undefined) {
      assert.equal(line, undefined, c.id);
      continue;
    }
    assert.ok(line, `fixture has a line for ${c.id}`);
    assert.match(line, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(error|crit)\] \d+#\d+: \*\d+ /);
    const normalised = normalizeErrorLogLine(line, { [/unix:(\/[^ ]*?\.sock)/.exec(line)?.[1] ?? '\0']: '/SOCKET' });
    assert.equal(normalised, expected, c.id);
  }
});
