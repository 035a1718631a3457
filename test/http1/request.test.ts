/** nginx's request rules as functions: tables of what nginx 1.22 accepts and refuses (recorded in test/proxy/hygiene-cases.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRequestHeaders,
  escapeLogValue,
  parseRequestTarget,
  rejectParserError,
  REQUEST_LIMITS,
  validateHost,
} from '../../src/http1/index.js';

test('validateHost: nginx’s rules', () => {
  const good: Array<[string, string]> = [
    ['example.com', 'example.com'],
    ['example.com.', 'example.com'],
    ['127.0.0.1:8080', '127.0.0.1:8080'],
    ['[::1]:8080', '[::1]:8080'],
    ['a_b', 'a_b'],
    ['caf\xe9', 'caf\xe9'],
  ];
  for (const [value, host] of good) assert.equal(validateHost(value), host, value);
  for (const bad of ['', 'a..b', '.', 'a/b', 'a\\b', 'a b', 'a\0b', 'a\x7f', '[::1', 'x[::1]', ':80', 'a]b'])
    assert.equal(validateHost(bad), undefined, JSON.stringify(bad));
});

test('parseRequestTarget: origin and absolute form; paths above / and bad escapes refused', () => {
  assert.deepEqual(parseRequestTarget('/a/b?c=../..', 'GET'), { path: '/a/b?c=../..', authority: undefined });
  assert.deepEqual(parseRequestTarget('/a/../b', 'GET'), { path: '/a/../b', authority: undefined });
  assert.deepEqual(parseRequestTarget('http://h.example:81/x?y', 'GET'), { path: '/x?y', authority: 'h.example:81' });
  assert.deepEqual(parseRequestTarget('https://h.example', 'GET'), { path: '/', authority: 'h.example' });
  for (const bad of [
    '*',
    'x',
    '/..',
    '/../x',
    '/a/../../x',
    '/%2e%2e/x',
    '/a%2f..%2f..%2fx',
    '/a%00',
    '/a%zz',
    '/a%2',
    'http://',
    'http://user@h/',
    '//',
  ]) {
    const r = parseRequestTarget(bad, 'GET');
    if (bad === '//') {
      assert.deepEqual(r, { path: '//', authority: undefined });
      continue;
    }
    assert.ok('status' in r && r.status === 400, bad);
  }
  const long = parseRequestTarget(`/${'a'.repeat(REQUEST_LIMITS.maxLineBytes)}`, 'GET');
  assert.ok('status' in long && long.status === 414);
});

test('checkRequestHeaders: one valid Host, Transfer-Encoding only chunked and not in HTTP/1.0, nginx’s limits', () => {
  const facts = checkRequestHeaders(
    ['Host', 'x', 'X-Forwarded-For', '1.2.3.4', 'x-forwarded-for', '5.6.7.8', 'X_Under', '1'],
    '1.1',
  );
  assert.ok(!('status' in facts));
  assert.equal(facts.host, 'x');
  assert.equal(facts.forwardedFor, '1.2.3.4, 5.6.7.8');
  assert.deepEqual(facts.dropped, ['x_under']);
  const status = (raw: string[], version = '1.1'): number | undefined => {
    const r = checkRequestHeaders(raw, version);
    return 'status' in r ? r.status : undefined;
  };
  assert.equal(status(['Host', 'a', 'Host', 'b']), 400);
  assert.equal(status(['Host', 'a/b']), 400);
  assert.equal(status(['Host', 'x', 'Transfer-Encoding', 'gzip, chunked']), 501);
  assert.equal(status(['Host', 'x', 'Transfer-Encoding', 'Chunked']), undefined);
  assert.equal(status(['Transfer-Encoding', 'chunked'], '1.0'), 400);
  assert.equal(status(['Host', 'x', 'X-Big', 'a'.repeat(REQUEST_LIMITS.maxLineBytes)]), 400);
  const many = Array.from({ length: REQUEST_LIMITS.maxHeaders + 1 }, (_, i) => [`X-${i}`, '1']).flat();
  assert.equal(status(many), 400);
  assert.equal(status(many.slice(2)), undefined);
});

test('rejectParserError: llhttp’s codes answered with nginx’s status', () => {
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  assert.equal(rejectParserError({ code: 'HPE_INVALID_VERSION', rawPacket: raw('GET / HTTP/3.0\r\n') }).status, 505);
  assert.equal(rejectParserError({ code: 'HPE_INVALID_VERSION', rawPacket: raw('GET / HTTP/1.2\r\n') }).status, 400);
  assert.equal(
    rejectParserError({
      code: 'HPE_INVALID_TRANSFER_ENCODING',
      rawPacket: raw('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'),
    }).status,
    501,
  );
  assert.equal(
    rejectParserError({
      code: 'HPE_INVALID_TRANSFER_ENCODING',
      rawPacket: raw('POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'),
    }).status,
    400,
  );
  assert.equal(
    rejectParserError({ code: 'HPE_HEADER_OVERFLOW', rawPacket: raw(`GET /${'a'.repeat(9000)}`) }).status,
    414,
  );
  assert.equal(
    rejectParserError({ code: 'HPE_HEADER_OVERFLOW', rawPacket: raw('GET / HTTP/1.1\r\nX: aaaa') }).status,
    400,
  );
  assert.deepEqual(rejectParserError({ code: 'HPE_INVALID_CHUNK_SIZE' }), {
    status: 400,
    message: 'client sent invalid chunked body',
    stage: undefined,
  });
  assert.equal(rejectParserError({}).status, 400);
});

test('escapeLogValue: as nginx writes its access log', () => {
  assert.equal(escapeLogValue('GET / HTTP/1.1'), 'GET / HTTP/1.1');
  assert.equal(escapeLogValue('ua"\x1b[31m\xff\\'), 'ua\\x22\\x1B[31m\\xFF\\x5C');
  assert.equal(escapeLogValue('a\nb\r'), 'a\\x0Ab\\x0D');
  assert.equal(escapeLogValue('\u2028'), '\\xE2\\x80\\xA8');
});
