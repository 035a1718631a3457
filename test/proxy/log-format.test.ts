/** The log formats and the failure wording, as pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_LOG_FORMAT,
  mapUpstreamError,
  normalizeErrorLogLine,
  parseUpstream,
  renderAccessLogLine,
  renderErrorLogLine,
} from '../../src/proxy/index.js';
import { parseAccessLogLine } from '../../src/doctor/index.js';

test('an access line renders like nginx (missing values are -) and doctor reads it back', () => {
  const line = renderAccessLogLine({
    remote_addr: '127.0.0.1',
    time_local: '26/Nov/2026:07:50:15 +0000',
    request: 'GET / HTTP/1.1',
    status: 200,
    body_bytes_sent: 2,
    upstream_status: '502, 200',
    upstream_response_time: '0.001, 0.000',
    request_time: '0.001',
  });
  // The exact line nginx wrote for the keep-alive race retry (test/proxy/cases.ts).
  assert.equal(
    line,
    '127.0.0.1 - - [26/Nov/2026:07:50:15 +0000] "GET / HTTP/1.1" 200 2 "-" "-" upstream_status=502, 200 upstream_response_time=0.001, 0.000 request_time=0.001',
  );
  // One parser of access lines (doctor's): what the proxies write is what doctor reads.
  assert.deepEqual(parseAccessLogLine(line), {
    format: 'combined+upstream',
    time: '2026-11-26T07:50:15',
    status: 200,
    attempts: [
      { upstream: null, status: 502 },
      { upstream: null, status: 200 },
    ],
    upstreamLogged: false,
  });
  assert.equal(parseAccessLogLine('garbage'), undefined);
  assert.equal(ACCESS_LOG_FORMAT.includes("'"), false, 'the format is embedded in single quotes in nginx.conf');
});

test('an error line renders in nginx layout and normalises for comparison', () => {
  const line = renderErrorLogLine({
    time: new Date(2026, 10, 26, 7, 52, 7),
    level: 'error',
    pid: 15875,
    connectionId: 2,
    message: 'connect() failed (111: Connection refused) while connecting to upstream',
    client: '127.0.0.1',
    server: 'localhost',
    request: 'GET / HTTP/1.1',
    upstream: 'http://127.0.0.1:40999/',
    host: '127.0.0.1:42619',
  });
  assert.equal(
    line,
    '2026/11/26 07:52:07 [error] 15875#15875: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:40999/", host: "127.0.0.1:42619"',
  );
  assert.equal(
    normalizeErrorLogLine(line),
    '[error] connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:PORT/", host: "127.0.0.1:PORT"',
  );
});

test('failures map to nginx status, level and wording, also the ones the table cannot provoke', () => {
  const tcp = parseUpstream('http://127.0.0.1:8080');
  const unix = parseUpstream('unix:/run/app.sock');
  const err = (code: string, extra: Partial<NodeJS.ErrnoException> = {}): NodeJS.ErrnoException =>
    Object.assign(new Error(code), { code, ...extra });
  const cases: [ReturnType<typeof mapUpstreamError>, string, string, number][] = [
    [
      mapUpstreamError(err('EADDRNOTAVAIL'), 'connecting', tcp),
      'crit',
      'connect() to 127.0.0.1:8080 failed (99: Cannot assign requested address) while connecting to upstream',
      502,
    ],
    [
      mapUpstreamError(err('EMFILE'), 'connecting', tcp),
      'alert',
      'socket() failed (24: Too many open files) while connecting to upstream',
      502,
    ],
    [
      mapUpstreamError(err('EACCES'), 'connecting', unix),
      'crit',
      'connect() to unix:/run/app.sock failed (13: Permission denied) while connecting to upstream',
      502,
    ],
    [
      mapUpstreamError(err('EHOSTUNREACH'), 'connecting', tcp),
      'error',
      'connect() failed (113: No route to host) while connecting to upstream',
      502,
    ],
    [
      mapUpstreamError(err('EPIPE', { syscall: 'write' }), 'sending', tcp),
      'error',
      'writev() failed (32: Broken pipe) while sending request to upstream',
      502,
    ],
    [
      mapUpstreamError({ timeout: 'sending' }, 'sending', tcp),
      'error',
      'upstream timed out (110: Connection timed out) while sending request to upstream',
      504,
    ],
    [
      mapUpstreamError({ timeout: 'reading-body' }, 'reading-body', tcp),
      'error',
      'upstream timed out (110: Connection timed out) while reading upstream',
      504,
    ],
    [
      mapUpstreamError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), 'reading-body', tcp),
      'error',
      'upstream prematurely closed connection while reading upstream',
      502,
    ],
  ];
  for (const [failure, level, message, status] of cases) {
    assert.equal(failure.message, message);
    assert.equal(failure.level, level, message);
    assert.equal(failure.status, status, message);
  }
});
