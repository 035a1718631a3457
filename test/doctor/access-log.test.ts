import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { parseAccessLogLine, summarizeAccessLogs } from '../../src/doctor/index.js';
import { createTempDir } from '../../src/util/index.js';
import { runCli } from '../../src/testing/index.js';

const COMBINED = '127.0.0.1 - - [26/Nov/2026:07:47:01 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88.1"';

test('format detection, line by line: combined, combined+upstream (long and short keys), json, garbage', () => {
  const table: [string, unknown][] = [
    [COMBINED, { format: 'combined', time: '2026-11-26T07:47:01', status: 502, attempts: [], upstreamLogged: false }],
    [
      `${COMBINED} upstream_status=502 upstream_response_time=0.001 request_time=0.001`,
      {
        format: 'combined+upstream',
        time: '2026-11-26T07:47:01',
        status: 502,
        attempts: [{ upstream: null, status: 502 }],
        upstreamLogged: false,
      },
    ],
    [
      `${COMBINED} ua="127.0.0.1:1, 127.0.0.1:2" us="502, 504" urt="0.000, 1.001" rt=1.002`,
      {
        format: 'combined+upstream',
        time: '2026-11-26T07:47:01',
        status: 502,
        attempts: [
          { upstream: '127.0.0.1:1', status: 502 },
          { upstream: '127.0.0.1:2', status: 504 },
        ],
        upstreamLogged: true,
      },
    ],
    [
      `${COMBINED.replace(' 502 ', ' 200 ')} upstream_addr=unix:/run/app.sock upstream_status=200 upstream_response_time=0.010 request_time=0.010`,
      {
        format: 'combined+upstream',
        time: '2026-11-26T07:47:01',
        status: 200,
        attempts: [{ upstream: 'unix:/run/app.sock', status: 200 }],
        upstreamLogged: true,
      },
    ],
    [
      `${COMBINED.replace(' 502 ', ' 504 ')} upstream_status=- upstream_response_time=- request_time=60.001`,
      { format: 'combined+upstream', time: '2026-11-26T07:47:01', status: 504, attempts: [], upstreamLogged: false },
    ],
    [
      '{"time_iso8601":"2026-11-26T07:47:01+00:00","status":"504","upstream_addr":"127.0.0.1:8080","upstream_status":"504"}',
      {
        format: 'json',
        time: '2026-11-26T07:47:01',
        status: 504,
        attempts: [{ upstream: '127.0.0.1:8080', status: 504 }],
        upstreamLogged: true,
      },
    ],
    ['{"status": "nope"}', undefined],
    ['{broken', undefined],
    ['2026/11/26 07:50:44 [error] 1#1: *3 upstream timed out', undefined],
    ['', undefined],
  ];
  for (const [line, expected] of table) assert.deepEqual(parseAccessLogLine(line), expected, line);
});

test('summary: 502/504 per upstream and per minute; (not logged) when the format has no upstream_addr', {
  timeout: 10_000,
}, async () => {
  const dir = await createTempDir('doctor');
  try {
    const line = (t: string, status: number, extra: string): string =>
      `127.0.0.1 - - [26/Nov/2026:${t} +0000] "POST / HTTP/1.1" ${status} 0 "-" "x" ${extra}`;
    await writeFile(
      dir.file('access.log'),
      [
        line(
          '07:47:01',
          502,
          'upstream_addr=127.0.0.1:1 upstream_status=502 upstream_response_time=0.000 request_time=0.001',
        ),
        line(
          '07:47:30',
          200,
          'upstream_addr=127.0.0.1:2 upstream_status=200 upstream_response_time=0.010 request_time=0.011',
        ),
        line(
          '07:48:02',
          504,
          'upstream_addr=127.0.0.1:2 upstream_status=504 upstream_response_time=2.001 request_time=2.002',
        ),
        line('07:48:03', 502, 'upstream_status=502 upstream_response_time=0.000 request_time=0.001'),
        'not a log line',
      ].join('\n'),
    );
    const s = await summarizeAccessLogs([dir.file('access.log')]);
    assert.deepEqual(s.lines, {
      total: 5,
      parsed: 4,
      unparsed: 1,
      byFormat: { combined: 0, 'combined+upstream': 4, json: 0 },
    });
    assert.deepEqual(s.statuses, { '502': 2, '200': 1, '504': 1 });
    assert.equal(s.s502, 2);
    assert.equal(s.s504, 1);
    assert.deepEqual(s.upstreams, [
      { name: '127.0.0.1:2', attempts: 2, s502: 0, s504: 1 },
      { name: '(not logged)', attempts: 1, s502: 1, s504: 0 },
      { name: '127.0.0.1:1', attempts: 1, s502: 1, s504: 0 },
    ]);
    assert.deepEqual(s.timeline, [
      { bucket: '2026-11-26T07:47:00', requests: 2, s502: 1, s504: 0 },
      { bucket: '2026-11-26T07:48:00', requests: 2, s502: 1, s504: 1 },
    ]);
    const r = await runCli(['doctor', '--access-log', dir.file('access.log')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^note: access log: 2 × 502 and 1 × 504 — pass the proxy error log \(--nginx-error-log\) to name their cause$/m,
    );
  } finally {
    await dir.close();
  }
});
