/**
 * The shared failure table (cases.ts) against real HAProxy 2.6 and Caddy 2.6, as badgateway starts
 * them: per case what the client gets and the signal doctor reads from the proxy's own log line
 * (HAProxy's termination state, Caddy's Go error). Where they differ from nginx, that is the
 * finding: HAProxy answers 503 to a refused connect, Caddy 502 to a dial timeout. Each proxy's
 * cases are skipped, with the reason printed, when it is not installed.
 *
 * BG_RECORD_PROXY_LOGS=1 rewrites test/doctor/fixtures/haproxy.log and caddy.log from this run:
 * every line each proxy wrote, under a `# case:` header.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { LINE, createLogLineClassifier, type FastClassification } from '../../src/causes/index.js';
import { findCaddy, findHaproxy, startProxy, type ProxyHandle } from '../../src/proxy/index.js';
import { sleep } from '../../src/util/index.js';
import { CASES, type ProxyCase } from './cases.js';

type External = 'haproxy' | 'caddy';
const FIND: Record<External, () => string | undefined> = { haproxy: findHaproxy, caddy: findCaddy };
const record = process.env['BG_RECORD_PROXY_LOGS'] === '1';

/** What a case showed: what the client got, and the signals of the proxy's failure lines (sorted). */
interface Seen {
  outcomes: string[];
  signals: string[];
}

/** Per case: what the client gets; a list where the real proxy does either, depending on timing. */
const EXPECTED: Record<External, Record<string, Seen | Seen[]>> = {
  haproxy: {
    'upstream-down-tcp': { outcomes: ['503', '503', '503'], signals: ['haproxy-SC', 'haproxy-SC', 'haproxy-SC'] },
    'upstream-down-unix-missing': { outcomes: ['503'], signals: ['haproxy-SC'] },
    'upstream-down-unix-stale': { outcomes: ['503'], signals: ['haproxy-SC'] },
    // Each refused connect: its SC-- line and HAProxy's own alert about the socket's backlog.
    'backlog-full-unix': {
      outcomes: ['200', '200', '503', '503', '503', '503'],
      signals: [
        'haproxy-SC',
        'haproxy-SC',
        'haproxy-SC',
        'haproxy-SC',
        'haproxy-unix-backlog',
        'haproxy-unix-backlog',
        'haproxy-unix-backlog',
        'haproxy-unix-backlog',
      ],
    },
    'backlog-full-tcp': { outcomes: ['503'], signals: ['haproxy-sC'] },
    'slow-upstream': { outcomes: ['504'], signals: ['haproxy-sH'] },
    // HAProxy streams the body; when the upstream stops reading, `timeout server` strikes in the
    // data phase and the client's connection is reset: no status at all (logged as -1). On a busy
    // machine it may strike while HAProxy waits for the response headers instead: 504 sH--.
    'send-timeout': [
      { outcomes: ['ECONNRESET'], signals: ['haproxy-sD'] },
      { outcomes: ['504'], signals: ['haproxy-sH'] },
    ],
    'reset-before-header': { outcomes: ['502'], signals: ['haproxy-SH'] },
    'reset-mid-body': { outcomes: ['200 truncated'], signals: ['haproxy-SD'] },
    'close-before-header': { outcomes: ['502'], signals: ['haproxy-SH'] },
    'keepalive-idle-closed': { outcomes: ['200', '200'], signals: [] },
    // `retry-on empty-response` retries the GET on a new connection, and logs no failure (only the retry count).
    'keepalive-race-get': { outcomes: ['200', '200'], signals: [] },
    'keepalive-race-get-next-upstream-off': { outcomes: ['200', '502'], signals: ['haproxy-SH'] },
    'keepalive-race-post': { outcomes: ['200', '502'], signals: ['haproxy-SH'] },
    'keepalive-race-post-rst': { outcomes: ['200', '502'], signals: ['haproxy-SH'] },
  },
  caddy: {
    'upstream-down-tcp': {
      outcomes: ['502', '502', '502'],
      signals: ['caddy-dial-refused', 'caddy-dial-refused', 'caddy-dial-refused'],
    },
    'upstream-down-unix-missing': { outcomes: ['502'], signals: ['caddy-dial-enoent'] },
    'upstream-down-unix-stale': { outcomes: ['502'], signals: ['caddy-dial-refused'] },
    'backlog-full-unix': {
      outcomes: ['200', '200', '502', '502', '502', '502'],
      signals: ['caddy-dial-eagain', 'caddy-dial-eagain', 'caddy-dial-eagain', 'caddy-dial-eagain'],
    },
    'backlog-full-tcp': { outcomes: ['502'], signals: ['caddy-dial-timeout'] },
    'slow-upstream': { outcomes: ['504'], signals: ['caddy-header-timeout'] },
    'send-timeout': { outcomes: ['504'], signals: ['caddy-write-timeout'] },
    'reset-before-header': { outcomes: ['502'], signals: ['caddy-reset'] },
    'reset-mid-body': { outcomes: ['200 truncated'], signals: ['caddy-body-abort'] },
    'close-before-header': { outcomes: ['502'], signals: ['caddy-eof'] },
    'keepalive-idle-closed': { outcomes: ['200', '200'], signals: [] },
    'keepalive-race-get': { outcomes: ['200', '200'], signals: [] },
    'keepalive-race-get-next-upstream-off': { outcomes: ['200', '200'], signals: [] },
    'keepalive-race-post': { outcomes: ['200', '502'], signals: ['caddy-eof'] },
    'keepalive-race-post-rst': { outcomes: ['200', '502'], signals: ['caddy-reset'] },
  },
};

const recorded: Record<External, string[]> = { haproxy: [], caddy: [] };

function signalsOf(kind: External, lines: readonly string[]): string[] {
  const classifier = createLogLineClassifier(kind);
  const out: string[] = [];
  for (const line of lines) {
    const c = {} as FastClassification;
    if (classifier.classify(line, c).kind === LINE.FAILURE) out.push(c.patternId);
  }
  return out.sort();
}

async function runCase(kind: External, c: ProxyCase): Promise<{ outcomes: string[]; lines: string[] }> {
  const upstream = await c.setup();
  let proxy: ProxyHandle | undefined;
  try {
    proxy = await startProxy({ kind, ...c.options, upstream: upstream.upstream });
    const outcomes = await c.drive(proxy.url, upstream);
    // A line is written when the proxy ends the request, possibly just after the client has its answer.
    await sleep(150);
    return { outcomes, lines: (await proxy.readErrorLog()).split('\n').filter(Boolean) };
  } finally {
    await proxy?.close();
    await upstream.close();
  }
}

for (const kind of ['haproxy', 'caddy'] as const) {
  const binary = FIND[kind]();
  describe(`${kind} proxy: upstream failures`, { concurrency: false }, () => {
    if (!binary)
      console.log(`# skipping the ${kind} cases: ${kind} is not installed (apt-get install ${kind}; .ci/run does)`);
    for (const c of CASES) {
      const expected = EXPECTED[kind][c.id];
      const skip = !binary
        ? `${kind} is not installed`
        : c.options.user !== undefined
          ? `${kind} runs as this process here (root): no worker user to lack the permission`
          : !expected
            ? 'no expectation'
            : false;
      test(c.id, { skip, timeout: 15_000 }, async () => {
        const seen = await runCase(kind, c);
        const got: Seen = { outcomes: seen.outcomes, signals: signalsOf(kind, seen.lines) };
        const allowed = Array.isArray(expected) ? expected : [expected!];
        const match = allowed.find((e) => JSON.stringify(e) === JSON.stringify(got));
        assert.deepEqual(got, match ?? allowed[0], `${kind} log:\n${seen.lines.join('\n')}`);
        if (record) recorded[kind].push(`# case: ${c.id}: client got ${seen.outcomes.join(', ')}`, ...seen.lines);
      });
    }
  });
}

test('recording: BG_RECORD_PROXY_LOGS=1 writes the fixtures of every line the real proxies wrote', {
  skip: !record && 'BG_RECORD_PROXY_LOGS is not set',
}, () => {
  const version = {
    haproxy: execFileSync(findHaproxy()!, ['-v'], { encoding: 'utf8' }).split('\n')[0]!,
    caddy: `Caddy ${execFileSync(findCaddy()!, ['version'], { encoding: 'utf8' }).trim()}`,
  };
  for (const kind of ['haproxy', 'caddy'] as const) {
    const header = `# ${version[kind]} (Debian 12), started by badgateway's run${kind === 'haproxy' ? 'Haproxy' : 'Caddy'}; recorded by test/proxy/external-table.test.ts (BG_RECORD_PROXY_LOGS=1)`;
    writeFileSync(
      new URL(`../../../test/doctor/fixtures/${kind}.log`, import.meta.url),
      `${header}\n${recorded[kind].join('\n')}\n`,
    );
  }
});
