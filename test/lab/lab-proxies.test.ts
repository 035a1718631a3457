/**
 * `badgateway lab --proxy haproxy` and `--proxy caddy` with Debian's packages: every node scenario
 * holds its verdict behind each, judged by that proxy's own status and log line. Skipped, with the
 * reason printed, when the proxy is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINE, createLogLineClassifier, type FastClassification } from '../../src/causes/index.js';
import type { LabReport } from '../../src/lab/index.js';
import { findCaddy, findHaproxy } from '../../src/proxy/index.js';
import { runCli } from '../../src/testing/index.js';

/** Per proxy and scenario: the status the client must get and the signals its log lines may be. */
const EXPECTED: Record<'haproxy' | 'caddy', Record<string, { status: string; signals: RegExp }>> = {
  haproxy: {
    'fd-exhaustion': { status: '502', signals: /^haproxy-SH$/ },
    'keepalive-leak': { status: '502', signals: /^haproxy-SH$/ },
    'backlog-overflow-unix': { status: '503', signals: /^haproxy-(?:unix-backlog|SC)$/ },
    'backlog-overflow-tcp': { status: '503', signals: /^haproxy-sC$/ },
    'keepalive-race': { status: '502', signals: /^haproxy-SH$/ },
    'slow-upstream': { status: '504', signals: /^haproxy-sH$/ },
    'upstream-down': { status: '503', signals: /^haproxy-SC$/ },
    // close-wait-leak cannot show behind HAProxy (it resets its server connections): skipped, with the reason.
    'worker-timeout': { status: '502', signals: /^haproxy-SH$/ },
  },
  caddy: {
    'fd-exhaustion': { status: '502', signals: /^caddy-(?:eof|reset)$/ },
    'keepalive-leak': { status: '502', signals: /^caddy-(?:eof|reset)$/ },
    'backlog-overflow-unix': { status: '502', signals: /^caddy-dial-eagain$/ },
    'backlog-overflow-tcp': { status: '502', signals: /^caddy-dial-timeout$/ },
    'keepalive-race': { status: '502', signals: /^caddy-(?:eof|reset)$/ },
    'slow-upstream': { status: '504', signals: /^caddy-header-timeout$/ },
    'upstream-down': { status: '502', signals: /^caddy-dial-refused$/ },
    'close-wait-leak': { status: '502', signals: /^caddy-(?:eof|reset)$/ },
    'worker-timeout': { status: '502', signals: /^caddy-(?:eof|reset)$/ },
  },
};

for (const [proxy, find] of [
  ['haproxy', findHaproxy],
  ['caddy', findCaddy],
] as const) {
  test(`badgateway lab --proxy ${proxy} --upstream node: every verdict holds by ${proxy}'s own status and log line`, {
    skip: find() ? false : `${proxy} is not installed (apt-get install ${proxy}; .ci/run does)`,
    timeout: 150_000,
  }, async () => {
    const r = await runCli(['lab', '--proxy', proxy, '--app', 'node', '--json'], { timeoutMs: 140_000 });
    const report = JSON.parse(r.stdout) as LabReport;
    assert.deepEqual(
      report.scenarios.map((s) => s.id),
      Object.keys(EXPECTED[proxy]),
    );
    if (proxy === 'haproxy')
      assert.ok(
        report.skipped.some((s) => s.id === 'close-wait-leak' && s.proxy === 'haproxy' && /reset/.test(s.reason)),
        'close-wait-leak skipped with its reason',
      );
    for (const s of report.scenarios) {
      const expected = EXPECTED[proxy][s.id]!;
      assert.equal(s.proxy, proxy);
      assert.ok(s.verdict.ok, `${s.id}: ${s.verdict.fail.reason} | ${s.verdict.fix.reason}`);
      assert.ok(
        (s.phases.fail.client.statusCodes[expected.status] ?? 0) > 0,
        `${s.id}: the client got ${expected.status} (${JSON.stringify(s.phases.fail.client.statusCodes)})`,
      );
      const lines = s.phases.fail.proxyLog.classified.filter((l) => l.matchesCause);
      assert.ok(lines.length > 0, s.id);
      for (const l of lines) {
        assert.match(l.patternId, expected.signals, `${s.id}: ${l.line}`);
        // The line is the proxy's own, in its own format.
        const into = {} as FastClassification;
        assert.equal(createLogLineClassifier(proxy).classify(l.line, into).kind, LINE.FAILURE);
      }
      assert.equal(s.phases.fix!.proxyLog.causeLines, 0, `${s.id} fix phase`);
      assert.ok(
        s.phases.fail.doctor && s.phases.fail.doctor.error === undefined,
        `${s.id}: doctor read the ${proxy} log (${s.phases.fail.doctor?.error})`,
      );
    }
    assert.equal(r.code, 0);
  });
}
