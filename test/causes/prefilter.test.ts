import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_LOG_PATTERNS, classifyProxyLogLine, mayBeProxyLogLine } from '../../src/causes/index.js';

test('mayBeProxyLogLine passes every line the classifier classifies (examples, unknown upstream errors)', () => {
  const lines = [
    ...PROXY_LOG_PATTERNS.map((p) => p.example),
    '2026/11/26 08:12:01 [error] 1#1: *3 upstream sent invalid chunked response while reading upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "x"',
  ];
  for (const line of lines) {
    assert.ok(classifyProxyLogLine(line), line);
    assert.ok(mayBeProxyLogLine(line), line);
  }
  assert.equal(mayBeProxyLogLine('2026/11/26 08:12:03 [notice] 1#1: start worker process 2'), false);
});

test('regression: nginx out of fds on the upstream side answers 500 at [alert], accept4() EMFILE gives no response', () => {
  const socket = classifyProxyLogLine(
    '2026/11/26 07:51:04 [alert] 13644#13644: *49 socket() failed (24: Too many open files) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1", upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"',
  );
  assert.deepEqual([socket?.patternId, socket?.status, socket?.level], ['proxy-emfile-upstream', 500, 'alert']);
  const accept = classifyProxyLogLine(
    '2026/11/26 07:51:03 [crit] 13644#13644: accept4() failed (24: Too many open files)',
  );
  assert.deepEqual([accept?.patternId, accept?.status, accept?.level], ['proxy-emfile', null, 'crit']);
  const wc = classifyProxyLogLine('2026/11/26 07:50:51 [alert] 13045#13045: 30 worker_connections are not enough');
  assert.deepEqual([wc?.patternId, wc?.status], ['worker-connections', null]);
});
