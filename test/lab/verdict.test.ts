import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAUSE_IDS } from '../../src/causes/index.js';
import {
  SCENARIOS,
  classifyErrorLog,
  judgeFailPhase,
  judgeFixPhase,
  planRuns,
  resolveLabOptions,
  chooseProxy,
  chooseProxies,
  causeStatuses,
  UPSTREAM_KINDS,
} from '../../src/lab/index.js';
import { samplePhase } from '../report/sample-report.js';

const EAGAIN =
  '2026/11/26 08:00:00 [error] 11#11: *267 connect() to unix:/tmp/a.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/a.sock:/", host: "127.0.0.1"';
const RESET =
  '2026/11/26 08:00:00 [error] 11#11: *3 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "127.0.0.1"';
const NOTICE = '2026/11/26 08:00:00 [notice] 11#11: signal process started';

test('the catalogue has every scenario of the design, each naming a known cause and plans for each of its upstreams', () => {
  assert.deepEqual(
    SCENARIOS.map((s) => s.id),
    [
      'fd-exhaustion',
      'keepalive-leak',
      'backlog-overflow-unix',
      'backlog-overflow-tcp',
      'keepalive-race',
      'slow-upstream',
      'upstream-down',
      'close-wait-leak',
      'worker-timeout',
    ],
  );
  for (const s of SCENARIOS) {
    assert.ok((CAUSE_IDS as readonly string[]).includes(s.causeId), s.id);
    assert.equal(s.upstreams[0], 'node', `${s.id}: node first (runs everywhere)`);
    for (const u of s.upstreams) {
      const plan = s.plan(u);
      assert.ok(plan.how.length > 20 && plan.fix.length > 10, `${s.id}/${u} says how and what fixes it`);
      for (const phase of [plan.phases.fail, plan.phases.fix]) {
        // Short phases: the whole lab must stay within minutes.
        assert.ok(phase.load.durationMs <= 2000 && phase.load.rate <= 300, `${s.id}/${u} phase is short`);
        assert.ok(phase.proxy.readTimeoutMs <= 3000, `${s.id}/${u} proxy timeouts are short`);
      }
    }
    for (const u of UPSTREAM_KINDS.filter((k) => !s.upstreams.includes(k))) assert.throws(() => s.plan(u));
  }
  // The three seeds, for real.
  const seeds = SCENARIOS.flatMap((s) =>
    Object.entries(s.seeds ?? {}).map(([u, seed]) => `${seed} ${s.id} ${u}`),
  ).sort();
  assert.deepEqual(seeds, [
    '000 fd-exhaustion uvicorn',
    '001 keepalive-leak gevent',
    '002 backlog-overflow-unix gunicorn',
  ]);
});

test('classifyErrorLog counts every upstream line, marks those of the cause, skips notices', () => {
  const log = [EAGAIN, EAGAIN, RESET, NOTICE, ''].join('\n');
  const unix = classifyErrorLog(log, 'backlog-overflow-unix', 2);
  assert.equal(unix.lines, 4);
  assert.deepEqual(unix.byPattern, { 'connect-eagain': 2, 'recv-reset': 1 });
  assert.equal(unix.causeLines, 2);
  assert.equal(unix.classified.length, 2, 'capped at maxLines');
  assert.deepEqual(
    unix.classified.map((l) => [l.patternId, l.status, l.matchesCause]),
    [
      ['connect-eagain', 502, true],
      ['connect-eagain', 502, true],
    ],
  );
  // A reset is evidence of a keep-alive leak too: the cause lists the pattern (libuv accepts and closes at EMFILE).
  assert.equal(classifyErrorLog(log, 'keepalive-leak', 50).causeLines, 1);
  assert.equal(classifyErrorLog(log, 'slow-upstream', 50).causeLines, 0);
});

test('judgeFailPhase needs the cause status at the client AND a proxy line of the cause', () => {
  const both = samplePhase('fail', { '200': 10, '502': 5 }, 1, [EAGAIN]);
  assert.deepEqual(judgeFailPhase(both, 'backlog-overflow-unix'), {
    ok: true,
    reason: 'reproduced: the client saw 5 × 502; the proxy logged 1 line(s) of backlog-overflow-unix (connect-eagain)',
  });
  const noLine = samplePhase('fail', { '502': 5 }, 1);
  assert.equal(judgeFailPhase(noLine, 'backlog-overflow-unix').ok, false);
  assert.equal(
    judgeFailPhase(noLine, 'backlog-overflow-unix').reason,
    'the client saw 5 × 502 but the proxy logged no line of backlog-overflow-unix',
  );
  // slow-upstream means 504: a 502 at the client does not reproduce it.
  assert.equal(judgeFailPhase(both, 'slow-upstream').ok, false);
  const broken = { ...both, error: 'gunicorn exited before listening' };
  assert.deepEqual(judgeFailPhase(broken, 'backlog-overflow-unix'), {
    ok: false,
    reason: 'could not run: gunicorn exited before listening',
  });
});

test('judgeFixPhase: no 502/504, no client error, no line of the cause', () => {
  assert.equal(judgeFixPhase(samplePhase('fix', { '200': 20, '503': 3 })).ok, true);
  assert.deepEqual(judgeFixPhase(samplePhase('fix', { '200': 20, '504': 3 })), {
    ok: false,
    reason: 'the client still saw 3 × 504',
  });
  const withErrors = samplePhase('fix', { '200': 20 });
  withErrors.client.errors = { ECONNRESET: 2 };
  assert.deepEqual(judgeFixPhase(withErrors), { ok: false, reason: 'client errors: 2 × ECONNRESET' });
  assert.deepEqual(judgeFixPhase(undefined), { ok: false, reason: 'not run' });
});

test('resolveLabOptions and planRuns: bad ids and kinds name the option; unsupported upstreams are listed', () => {
  assert.throws(() => resolveLabOptions({ scenarios: ['nope'] }), /scenario: "nope" is not valid/);
  assert.throws(
    () => resolveLabOptions({ proxy: 'traefik' as never }),
    /--proxy: "traefik" is not valid \(expected nginx, haproxy, caddy, builtin, all or auto\)/,
  );
  assert.throws(() => resolveLabOptions({ upstream: 'php' as never }), /--app: "php" is not valid/);
  const all = planRuns(resolveLabOptions({}).scenarios, undefined);
  assert.equal(all.runs.length, 13);
  const gevent = planRuns(resolveLabOptions({ scenarios: ['keepalive-leak', 'slow-upstream'] }).scenarios, 'gevent');
  assert.deepEqual(
    gevent.runs.map((r) => `${r.scenario.id}/${r.upstream}`),
    ['keepalive-leak/gevent'],
  );
  assert.deepEqual(gevent.unsupported, [
    {
      id: 'slow-upstream',
      kind: 'unsupported',
      proxy: null,
      upstream: 'gevent',
      reason: 'slow-upstream runs with node upstreams only',
    },
  ]);
});

test('chooseProxy: auto falls back to the built-in proxy without nginx; asking for nginx without it is an error', () => {
  assert.equal(chooseProxy('auto', { findNginx: () => '/usr/sbin/nginx' }), 'nginx');
  assert.equal(chooseProxy('auto', { findNginx: () => undefined }), 'builtin');
  assert.equal(chooseProxy('builtin', { findNginx: () => '/usr/sbin/nginx' }), 'builtin');
  assert.throws(() => chooseProxy('nginx', { findNginx: () => undefined }), { code: 'BG_NO_NGINX' });
  assert.throws(() => chooseProxy('haproxy', { findNginx: () => undefined, findHaproxy: () => undefined }), {
    code: 'BG_MISSING_TOOL',
    message: 'haproxy is not installed',
  });
  assert.equal(chooseProxy('caddy', { findNginx: () => undefined, findCaddy: () => '/usr/bin/caddy' }), 'caddy');
});

test('chooseProxies: all = every proxy installed here plus the built-in one; the missing ones are named with the reason', () => {
  const some = { findNginx: () => '/usr/sbin/nginx', findHaproxy: () => undefined, findCaddy: () => '/usr/bin/caddy' };
  assert.deepEqual(chooseProxies('all', some), {
    proxies: ['nginx', 'caddy', 'builtin'],
    missing: [{ proxy: 'haproxy', reason: 'haproxy is not installed' }],
  });
  assert.deepEqual(chooseProxies('auto', { ...some, findNginx: () => undefined }), {
    proxies: ['builtin'],
    missing: [],
  });
  assert.deepEqual(chooseProxies('haproxy', { ...some, findHaproxy: () => '/usr/sbin/haproxy' }), {
    proxies: ['haproxy'],
    missing: [],
  });
});

test('judgeFailPhase judges each proxy by its own status: HAProxy answers 503 for a refused connect, where nginx answers 502', () => {
  const refused = samplePhase('fail', { '503': 50 });
  refused.proxyLog = { lines: 50, classified: [], byPattern: { 'haproxy-SC': 50 }, causeLines: 50 };
  assert.equal(judgeFailPhase(refused, 'upstream-down', 'haproxy').ok, true);
  assert.deepEqual(judgeFailPhase(refused, 'upstream-down', 'nginx'), {
    ok: false,
    reason: 'the proxy logged 50 line(s) of upstream-down () but the client saw no 502',
  });
  assert.deepEqual(causeStatuses('upstream-down', 'haproxy'), [503]);
  assert.deepEqual(causeStatuses('upstream-down', 'builtin'), [502]);
});

test('classifyErrorLog reads each proxy in its own format: HAProxy termination states, Caddy Go errors', () => {
  const haproxy = classifyErrorLog(
    [
      '127.0.0.1:55704 [30/Nov/2026:22:06:30.471] badgateway upstream/app 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
      '127.0.0.1:55706 [30/Nov/2026:22:06:30.480] badgateway upstream/app 0/0/0/1/1 200 141 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
    ].join('\n'),
    'upstream-down',
    50,
    'haproxy',
  );
  assert.deepEqual([haproxy.lines, haproxy.causeLines, haproxy.byPattern], [2, 1, { 'haproxy-SC': 1 }]);
  assert.equal(haproxy.classified[0]!.status, 503);
  const caddy = classifyErrorLog(
    '{"level":"error","ts":1796076519.398665,"logger":"http.log.error","msg":"dial unix /tmp/app.sock: connect: resource temporarily unavailable","status":502}',
    'backlog-overflow-unix',
    50,
    'caddy',
  );
  assert.deepEqual([caddy.causeLines, caddy.byPattern], [1, { 'caddy-dial-eagain': 1 }]);
});
