import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../../src/util/index.js';
import type { AddressInfo } from 'node:net';
import { startProxy, findNginx } from '../../src/proxy/index.js';
import { runCli } from '../../src/testing/index.js';
import type { DoctorReport } from '../../src/doctor/index.js';

/** A port nothing listens on: bound, read, closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

for (const kind of ['builtin', 'nginx'] as const) {
  test(`doctor reads the ${kind} proxy's error and access logs: upstream-down, 502s counted per minute`, {
    timeout: 20_000,
    skip: kind === 'nginx' && !findNginx() ? 'nginx not installed' : false,
  }, async () => {
    const port = await deadPort();
    const proxy = await startProxy({ kind, upstream: `http://127.0.0.1:${port}`, listenPort: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${proxy.url}/x${i}`, { headers: { connection: 'close' } });
        assert.equal(res.status, 502);
        await res.arrayBuffer();
      }
      // Both proxies write their lines as they happen; nginx's access log may lag a moment behind.
      await waitFor(
        'three access lines',
        async () => (await readFile(proxy.accessLogPath, 'utf8')).trim().split('\n').length === 3,
        { intervalMs: 20 },
      );
      const r = await runCli([
        'doctor',
        '--nginx-error-log',
        proxy.errorLogPath,
        '--access-log',
        proxy.accessLogPath,
        '--json',
      ]);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as DoctorReport;
      assert.deepEqual(
        report.errorLog?.patterns.map((p) => [p.id, p.count, p.upstreams]),
        [['connect-refused', 3, [{ name: `127.0.0.1:${port}`, count: 3 }]]],
      );
      if (kind === 'nginx') {
        // The running nginx that writes this log is found and read (nginx -T): its upstream is inspected live.
        assert.deepEqual(
          report.proxyConfigs.map((c) => c.masterPid),
          [proxy.pid],
        );
        assert.deepEqual(
          report.facts?.targets.map((t) => `${t.label}:${t.missing}:${t.fromConfig}`),
          [`port ${port}:no-listener:badgateway_upstream`],
        );
        assert.deepEqual(
          report.findings.map((f) => `${f.cause}:${f.source}`),
          ['upstream-down:live'],
        );
        assert.match(
          report.findings[0]!.evidence.join('\n'),
          /error log: 3 line\(s\) of connect-refused \(502\) — this cause, shown live/,
        );
      } else {
        assert.deepEqual(
          report.findings.map((f) => `${f.cause}:${f.source}`),
          ['upstream-down:error-log'],
        );
      }
      assert.equal(report.accessLog?.lines.byFormat['combined+upstream'], 3);
      assert.equal(report.accessLog?.s502, 3);
      assert.deepEqual(report.accessLog?.upstreams, [{ name: '(not logged)', attempts: 3, s502: 3, s504: 0 }]);
      assert.equal(
        report.accessLog?.timeline.reduce((n, b) => n + b.s502, 0),
        3,
      );
    } finally {
      await proxy.close();
    }
  });
}
