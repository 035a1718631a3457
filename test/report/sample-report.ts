import type { LabReport, PhaseResult } from '../../src/lab/types.js';

const LINE_EAGAIN =
  '2026/11/26 08:00:00 [error] 1234#1234: *267 connect() to unix:/tmp/bg-lab-Ab12Cd/app.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/bg-lab-Ab12Cd/app.sock:/", host: "127.0.0.1"';

/** A phase with the given status counts spread over `seconds` timeline buckets. */
export function samplePhase(
  name: 'fail' | 'fix',
  statusCodes: Record<string, number>,
  seconds = 2,
  lines: string[] = [],
): PhaseResult {
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const timeline = Array.from({ length: seconds * 5 }, (_, i) => ({
    tMs: i * 200,
    sent: Math.round(requests / (seconds * 5)),
    statusCodes: Object.fromEntries(Object.entries(statusCodes).map(([k, n]) => [k, Math.round(n / (seconds * 5))])),
    errors: (i === 3 ? { ECONNRESET: 1 } : {}) as Record<string, number>,
    p50: 2 + i,
    p99: 10 + i * 3,
  }));
  return {
    name,
    description: name === 'fail' ? 'sync app, backlog 8 <script>alert(1)</script>' : 'sync app, backlog 511',
    durationMs: seconds * 1000 + 400,
    client: {
      requests,
      rate: { asked: requests / seconds, achieved: requests / seconds - 0.5 },
      durationMs: seconds * 1000,
      latenciesMs: { min: 0.4, mean: 5, p50: 3, p90: 9, p95: 12, p99: 20, max: 31 },
      statusCodes,
      errors: {},
      bucketMs: 200,
      timeline,
    },
    gatewayErrors: (statusCodes['502'] ?? 0) + (statusCodes['504'] ?? 0),
    samples: Array.from({ length: seconds * 6 }, (_, i) => ({
      tMs: i * 150,
      fds: 20 + i,
      fdLimit: 64,
      listenQueue: name === 'fail' ? Math.min(8, i) : 0,
      listenBacklog: name === 'fail' ? 8 : 511,
      inflight: null,
    })),
    proxyLog: {
      lines: lines.length + 1,
      classified: lines.map((line) => ({
        line,
        patternId: 'connect-eagain',
        causes: ['backlog-overflow-unix'],
        status: 502,
        level: 'error',
        matchesCause: true,
      })),
      byPattern: lines.length > 0 ? { 'connect-eagain': lines.length } : {},
      causeLines: lines.length,
    },
    notes: name === 'fail' ? ['burst of 200 req/s against a 100 req/s worker & "quotes"'] : [],
    doctor:
      name === 'fail'
        ? {
            causes: ['backlog-overflow-unix'],
            findings: [
              {
                cause: 'backlog-overflow-unix',
                severity: 'critical',
                summary: 'accept queue full: 9 queued, backlog 8',
              },
            ],
          }
        : { causes: [], findings: [] },
    childPids: [4242],
    upstream: { pid: 4242, unixSocket: '/tmp/bg-lab-Ab12Cd/app.sock' },
  };
}

/** A two-scenario report (one verdict holds, one fails) with HTML-hostile text in it. */
export function sampleReport(): LabReport {
  return {
    tool: 'badgateway lab',
    version: 1,
    startedAt: '2026-11-26T08:00:00.000Z',
    durationMs: 9300,
    ok: false,
    interrupted: false,
    scenarios: [
      {
        id: 'backlog-overflow-unix',
        title: 'Accept queue full on a unix socket',
        causeId: 'backlog-overflow-unix',
        proxy: 'nginx',
        upstream: 'node',
        how: 'a sync app (10 ms per request) on a unix socket with listen backlog 8, 200 req/s',
        fix: 'backlog 511',
        phases: {
          // Seven lines of one kind (connection ids differ): the page shows two and "… 5 more like this".
          fail: samplePhase(
            'fail',
            { '200': 110, '502': 90 },
            2,
            Array.from({ length: 7 }, (_, i) => LINE_EAGAIN.replace('*267', `*${267 + i}`)),
          ),
          fix: samplePhase('fix', { '200': 200 }),
        },
        verdict: {
          ok: true,
          fail: { ok: true, reason: '90 × 502 and 2 proxy lines of backlog-overflow-unix' },
          fix: { ok: true, reason: 'no 502/504, no line of this cause' },
        },
        interrupted: false,
        durationMs: 5200,
      },
      {
        id: 'slow-upstream',
        title: 'Slow upstream </h2><img src=x onerror=alert(1)>',
        causeId: 'slow-upstream',
        proxy: 'builtin',
        upstream: 'node',
        how: 'GET /sleep?ms=1500&x=<b>',
        fix: 'proxy read timeout 3 s',
        phases: {
          fail: samplePhase('fail', { '200': 10 }),
          fix: samplePhase('fix', { '200': 5, '504': 5 }),
        },
        verdict: {
          ok: false,
          fail: { ok: false, reason: 'no 502/504 seen' },
          fix: { ok: false, reason: '5 × 504' },
        },
        interrupted: false,
        durationMs: 4100,
      },
    ],
    skipped: [
      {
        id: 'keepalive-leak',
        kind: 'unavailable',
        proxy: null,
        upstream: 'gevent',
        reason: 'python3-gevent is not installed',
      },
    ],
  };
}
