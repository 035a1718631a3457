/** The catalogue's per-proxy view: complete, consistent with the signals, and what `badgateway causes ID` shows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAUSE_IDS,
  PROXY_LOG_PATTERNS,
  PROXY_NAMES,
  PROXY_SIGNALS,
  causesWithViews,
  getProxyView,
} from '../../src/causes/index.js';
import { runCli } from '../../src/testing/index.js';

test('every cause has a view for every proxy: nginx from its own entry, the others written out (or n/a with the reason)', () => {
  assert.deepEqual([...causesWithViews()].sort(), [...CAUSE_IDS].sort());
  for (const cause of CAUSE_IDS) {
    for (const proxy of PROXY_NAMES) {
      const view = getProxyView(cause, proxy);
      assert.ok(view, `${cause} × ${proxy}`);
      if ('na' in view) {
        assert.notEqual(proxy, 'nginx');
        assert.ok(view.na.length > 10);
        continue;
      }
      assert.ok(view.statuses.length > 0 && view.signals.length > 0 && view.fix.length > 10, `${cause} × ${proxy}`);
    }
  }
});

test("each view's signals are that proxy's, name the cause, and account for its statuses", () => {
  for (const cause of CAUSE_IDS) {
    for (const proxy of PROXY_NAMES) {
      const view = getProxyView(cause, proxy);
      if (!view || 'na' in view) continue;
      const statuses = new Set<number>();
      for (const id of view.signals) {
        const signal =
          proxy === 'nginx' ? PROXY_LOG_PATTERNS.find((p) => p.id === id) : PROXY_SIGNALS.find((s) => s.id === id);
        assert.ok(signal, `${cause} × ${proxy}: ${id} exists`);
        if ('proxy' in signal) assert.equal(signal.proxy, proxy, id);
        assert.ok(signal.causes.includes(cause), `${id} names ${cause}`);
        if (signal.status !== null) statuses.add(signal.status);
      }
      for (const s of view.statuses)
        assert.ok(statuses.has(s), `${cause} × ${proxy}: status ${s} is one of its signals'`);
    }
  }
});

test('badgateway causes keepalive-race shows each proxy: what it returns, what gives it away, the proxy-side fix', {
  timeout: 10_000,
}, async () => {
  const r = await runCli(['causes', 'keepalive-race']);
  assert.equal(r.code, 0);
  const section = r.stdout.slice(r.stdout.indexOf('Per proxy'));
  assert.match(
    section,
    /^ {2}nginx {4}502 {2}upstream prematurely closed connection while reading response header from upstream$/m,
  );
  assert.match(section, /^ {2}haproxy {2}502 {2}SH--$/m);
  assert.match(section, /^ {2}caddy {4}502 {2}msg "EOF, http: server closed idle connection"$/m);
  assert.match(section, /^ {2}envoy {4}503 {2}UC$/m);
  assert.match(section, /^ {2}alb {6}502 {2}elb_status_code 502, target_status_code -, target_processing_time -1$/m);
  // The classic: Node's 5 s keep-alive behind the ALB's 60 s idle timeout.
  assert.match(
    section.replace(/\n {11}/g, ' '),
    /fix: the app's keep-alive timeout above the ALB's idle timeout \(60 s\): Node's default 5 s is the classic race/,
  );
  const unix = await runCli(['causes', 'backlog-overflow-unix']);
  assert.match(unix.stdout, /^ {2}alb {6}n\/a: ALB targets are TCP/m);
  const json = JSON.parse((await runCli(['causes', 'upstream-down', '--json'])).stdout) as {
    causes: { proxies: Record<string, { statuses?: number[] }> }[];
    signals: unknown[];
  };
  assert.deepEqual(json.causes[0]!.proxies['haproxy']!.statuses, [503]);
  assert.equal(json.signals.length, PROXY_SIGNALS.length);
});
