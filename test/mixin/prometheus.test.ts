import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { spawnDemoApp } from '../../src/app/index.js';
import { MIXIN_FILES, renderMixinFiles, resolveMixinConfig } from '../../src/mixin/index.js';
import { sleep, which } from '../../src/util/index.js';
import { startCli } from '../../src/testing/index.js';
import { PROMETHEUS, startPrometheus } from './prometheus-server.js';

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

test('a real Prometheus scraping a guarded app and doctor --prometheus raises BadgatewayFdExhaustion when the app leaks its fds', {
  timeout: 90_000,
}, async (t) => {
  if (!PROMETHEUS) return t.skip('prometheus not installed (apt-get install prometheus)');
  if (!which('prlimit')) return t.skip('prlimit (util-linux) not installed');
  // The shipped rules, with short for: and rate windows so the test runs in seconds.
  const config = resolveMixinConfig({
    rateInterval: '10s',
    for: { fdExhaustionWarning: '2s', fdExhaustionCritical: '2s' },
  });
  const ruleFiles = renderMixinFiles(config)
    .filter((f) => f.path === MIXIN_FILES.rules || f.path === MIXIN_FILES.alerts)
    .map((f) => ({ name: f.path, content: f.content }));
  await using app = await spawnDemoApp({ port: 0, fdLimit: 256, guard: true });
  const doctor = startCli([
    'doctor',
    '--port',
    String(app.port),
    '--watch',
    '1s',
    '--interval',
    '0',
    '--prometheus',
    '0',
  ]);
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  try {
    const [, doctorUrl] = await doctor.waitForLine(/^metrics on (http:\S+)$/, 20_000);
    const doctorTarget = new URL(doctorUrl!).host;
    prometheus = await startPrometheus({
      ruleFiles,
      targets: { app: `127.0.0.1:${app.port}`, doctor: doctorTarget },
      intervalS: 1,
    });
    const server = prometheus;

    // Both targets up, and the recording rule computing a healthy ratio for each.
    const ratios = async (): Promise<{ metric: Record<string, string>; value: [number, string] }[]> =>
      (
        await server.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent('process:badgateway_open_fds:ratio')}`,
        )
      ).result;
    let healthy: Awaited<ReturnType<typeof ratios>> = [];
    for (let i = 0; i < 150 && healthy.length < 2; i++) {
      healthy = await ratios();
      if (healthy.length < 2) await sleep(200);
    }
    assert.deepEqual(healthy.map((r) => r.metric['job']).sort(), ['app', 'doctor'], 'guard and doctor series recorded');
    for (const r of healthy) assert.ok(Number(r.value[1]) < 0.5, `healthy ratio ${r.value[1]}`);
    assert.deepEqual(
      (
        (await server.api<ApiAlert[] | { alerts: ApiAlert[] }>('/api/v1/alerts')) as { alerts: ApiAlert[] }
      ).alerts.filter((a) => a.labels['alertname'] === 'BadgatewayFdExhaustion'),
      [],
    );

    // Into fd exhaustion: the app holds every fd it can (EMFILE).
    const leak = (await (await fetch(`${app.url}/leak?n=1000`)).json()) as {
      error: string | null;
      open: number;
      limit: number;
    };
    assert.equal(leak.error, 'EMFILE');

    // Bounded wait until the alert is pending or firing on doctor's view of the app.
    let alert: ApiAlert | undefined;
    for (let i = 0; i < 150 && !alert; i++) {
      const { alerts } = await server.api<{ alerts: ApiAlert[] }>('/api/v1/alerts');
      alert = alerts.find(
        (a) =>
          a.labels['alertname'] === 'BadgatewayFdExhaustion' &&
          a.labels['severity'] === 'critical' &&
          a.labels['job'] === 'doctor',
      );
      if (!alert) await sleep(200);
    }
    assert.ok(alert, `BadgatewayFdExhaustion never came: ${server.stderr}`);
    assert.ok(['pending', 'firing'].includes(alert.state));
    assert.equal(alert.labels['target'], `port ${app.port}`);
    assert.equal(alert.labels['cause'], 'fd-exhaustion');
    assert.match(
      alert.annotations['summary'] ?? '',
      new RegExp(`: port ${app.port} has 25[0-6] of 256 file descriptors open \\(\\d+(\\.\\d+)?%\\)\\.$`),
    );
    assert.match(alert.annotations['description'] ?? '', new RegExp(`run \`badgateway doctor --port ${app.port}\``));
    assert.equal(alert.annotations['runbook_url'], 'https://www.npmjs.com/package/badgateway#fd-exhaustion');
  } finally {
    const dir = prometheus?.dir.path;
    const pid = prometheus?.pid;
    await prometheus?.close();
    await doctor.stop('SIGINT');
    // Nothing left behind: the server is gone with its data dir.
    if (pid) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    if (dir) assert.equal(existsSync(dir), false);
  }
});
