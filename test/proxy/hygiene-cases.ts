/**
 * The differential corpus: raw requests and raw upstream responses, each sent through real nginx
 * and through the built-in proxy in front of the same recording upstream. `statuses` and
 * `upstream` are what nginx 1.22.1 does (recorded by running this corpus, BG_HYGIENE_PRINT=1); the
 * built-in proxy must do the same, or the case says how it differs and why (`builtin`).
 */
import type { Part } from './raw-client.js';
import type { RawReply } from './recording-upstream.js';

/** A request the upstream must see: method, target, body, and headers pinned by the case. */
export interface ExpectedRequest {
  method: string;
  target: string;
  body?: string;
  /** Header values the upstream must see (`undefined` = absent); names lowercase. */
  headers?: Record<string, string | undefined>;
}

export interface Expectation {
  /** Every response's status, space-separated (interim ones too), as `100 200`; `-` for none. */
  statuses: string;
  upstream: ExpectedRequest[];
}

export interface RequestCase extends Expectation {
  id: string;
  parts: Part[];
  /** Final responses to wait for (default 1); pipelined cases expect more. */
  expect?: number;
  methods?: string[];
  /** Where the built-in proxy differs from nginx on purpose, and why. */
  builtin?: Partial<Expectation> & { why: string };
}

export interface ResponseCase {
  id: string;
  method?: string;
  reply: RawReply;
  /** The client's status, `+ truncated` when the body was cut, or `-` for no response. */
  status: string;
  /** Body the client must get (when pinned). */
  body?: string;
  /** Response headers the client must see (`undefined` = absent; arrays = every value, in order). */
  headers?: Record<string, string | string[] | undefined>;
  builtin?: { status?: string; body?: string; headers?: ResponseCase['headers']; why: string };
}

const CRLF = '\r\n';
/** A request from lines joined by CRLF, a blank line, then `body`. */
export const raw = (lines: string[], body = ''): string => `${lines.join(CRLF)}${CRLF}${CRLF}${body}`;
/** Why the built-in proxy refuses what nginx 1.22 reads leniently: node's parser, llhttp, in its strict mode. */
const LLHTTP_STRICT =
  "node's parser (llhttp, strict mode) refuses it with 400; nginx reads it leniently. Refusing is the safe side: nothing reaches the upstream";
const ABSOLUTE_HOST =
  "RFC 9112 §3.2.2: a proxy replaces Host with an absolute-form target's authority; nginx's $http_host (in the generated config) forwards the client's Host";
const SMUGGLED = raw(['GET /admin HTTP/1.1', 'Host: x', 'X-Forwarded-For: 10.0.0.1']);
const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`;
const ONE = { statuses: '200' } as const;
const POST_HELLO = { method: 'POST', target: '/', body: 'hello' } as const;
const GET = (target = '/', headers?: ExpectedRequest['headers']): ExpectedRequest => ({
  method: 'GET',
  target,
  ...(headers ? { headers } : {}),
});

export const REQUEST_CASES: RequestCase[] = [
  // --- Connection naming framing headers: the defect that opened this corpus ---
  {
    id: 'connection-names-content-length',
    parts: [
      raw(
        ['POST /public HTTP/1.1', 'Host: x', 'Connection: Content-Length', `Content-Length: ${SMUGGLED.length}`],
        SMUGGLED,
      ),
    ],
    ...ONE,
    upstream: [{ method: 'POST', target: '/public', body: SMUGGLED }],
  },
  {
    id: 'connection-names-transfer-encoding',
    parts: [
      raw(
        ['POST /public HTTP/1.1', 'Host: x', 'Connection: Transfer-Encoding', 'Transfer-Encoding: chunked'],
        `${chunk(SMUGGLED)}0\r\n\r\n`,
      ),
    ],
    ...ONE,
    upstream: [{ method: 'POST', target: '/public', body: SMUGGLED }],
  },
  {
    id: 'connection-names-host',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'Connection: Host'])],
    ...ONE,
    upstream: [GET('/', { host: 'x' })],
  },
  {
    id: 'connection-names-custom-header',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'Connection: keep-alive, X-Secret', 'X-Secret: 1'])],
    ...ONE,
    upstream: [GET('/', { 'x-secret': '1' })],
    builtin: {
      upstream: [GET('/', { 'x-secret': undefined })],
      why: 'RFC 9110 §7.6.1: a header named in Connection is hop-by-hop; nginx ignores the tokens',
    },
  },
  {
    id: 'connection-close-with-body',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Connection: close', 'Content-Length: 5'], 'hello')],
    ...ONE,
    upstream: [POST_HELLO],
  },
  // --- Content-Length and Transfer-Encoding together or malformed ---
  {
    id: 'cl-and-te',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Transfer-Encoding: chunked'], `0\r\n\r\n${SMUGGLED}`),
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'te-and-cl',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Content-Length: 30'], `0\r\n\r\n${SMUGGLED}`),
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'duplicate-cl-same',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'duplicate-cl-different',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 30'], `hello${SMUGGLED}`)],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-list',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5, 5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-negative',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: -5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-plus-sign',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: +5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-hex',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 0x5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-overflow',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 99999999999999999999999'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-empty',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length:'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'cl-zero-post',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 0'])],
    ...ONE,
    upstream: [{ method: 'POST', target: '/', body: '', headers: { 'content-length': '0' } }],
  },
  {
    id: 'get-with-body',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'Content-Length: 5'], 'hello')],
    ...ONE,
    upstream: [{ method: 'GET', target: '/', body: 'hello', headers: { 'content-length': '5' } }],
  },
  // --- Transfer-Encoding ---
  {
    id: 'te-chunked',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], `${chunk('hel')}${chunk('lo')}0\r\n\r\n`),
    ],
    ...ONE,
    upstream: [{ ...POST_HELLO, headers: { 'content-length': '5', 'transfer-encoding': undefined } }],
  },
  {
    id: 'te-chunked-uppercase',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: CHUNKED'], `${chunk('hello')}0\r\n\r\n`)],
    ...ONE,
    upstream: [POST_HELLO],
  },
  {
    id: 'te-gzip',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: gzip'], 'hello')],
    statuses: '501',
    upstream: [],
  },
  {
    id: 'te-chunked-gzip',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked, gzip'], `${chunk('hello')}0\r\n\r\n`)],
    statuses: '501',
    upstream: [],
  },
  {
    id: 'te-gzip-chunked',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: gzip, chunked'], `${chunk('hello')}0\r\n\r\n`)],
    statuses: '501',
    upstream: [],
  },
  {
    id: 'te-identity',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: identity'], 'hello')],
    statuses: '501',
    upstream: [],
  },
  {
    id: 'te-twice',
    parts: [
      raw(
        ['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
        `${chunk('hello')}0\r\n\r\n`,
      ),
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'te-http10',
    parts: [raw(['POST / HTTP/1.0', 'Host: x', 'Transfer-Encoding: chunked'], `${chunk('hello')}0\r\n\r\n`)],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'te-space-before-colon',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding : chunked'], `${chunk('hello')}0\r\n\r\n`)],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'te-tab-value',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding:\tchunked'], `${chunk('hello')}0\r\n\r\n`)],
    statuses: '501',
    upstream: [],
    builtin: {
      statuses: '200',
      upstream: [POST_HELLO],
      why: 'llhttp strips the tab before the value (RFC 9110 allows it), so the value is plain `chunked`; nginx strips spaces only',
    },
  },
  // --- chunked bodies ---
  {
    id: 'chunk-size-overflow',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], 'FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n'),
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-size-negative',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-size-hex-prefix',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-size-not-hex',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], 'zz\r\nhello\r\n0\r\n\r\n')],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-extension',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], '5;name=value\r\nhello\r\n0\r\n\r\n')],
    ...ONE,
    upstream: [POST_HELLO],
  },
  {
    id: 'chunk-data-too-long',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], `5\r\nhelloXX\r\n0\r\n\r\n`)],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-bad-after-first',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], `${chunk('hello')}`),
      { waitMs: 100 },
      'nothex\r\n',
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'chunk-trailer-content-length',
    parts: [
      raw(
        ['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'],
        `${chunk('hello')}0\r\nContent-Length: 100\r\nX-Trailer: 1\r\n\r\n`,
      ),
    ],
    ...ONE,
    upstream: [{ ...POST_HELLO, headers: { 'content-length': '5', 'x-trailer': undefined } }],
    builtin: {
      statuses: '400',
      upstream: [],
      why: 'llhttp refuses a Content-Length among the trailers; nginx drops trailers',
    },
  },
  {
    id: 'chunk-trailer-plain',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], `${chunk('hello')}0\r\nX-Trailer: 1\r\n\r\n`),
    ],
    ...ONE,
    upstream: [{ ...POST_HELLO, headers: { 'content-length': '5', 'x-trailer': undefined } }],
  },
  {
    id: 'chunk-empty-body',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], '0\r\n\r\n')],
    ...ONE,
    upstream: [{ method: 'POST', target: '/', body: '', headers: { 'content-length': '0' } }],
  },
  {
    id: 'chunk-lf-only',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], '5\nhello\n0\n\n')],
    ...ONE,
    upstream: [POST_HELLO],
    builtin: { statuses: '400', upstream: [], why: LLHTTP_STRICT },
  },
  // --- line endings, folding, bytes ---
  {
    id: 'bare-lf-request',
    parts: ['GET /lf HTTP/1.1\nHost: x\nX-A: 1\n\n'],
    ...ONE,
    upstream: [GET('/lf', { 'x-a': '1' })],
    builtin: { statuses: '400', upstream: [], why: LLHTTP_STRICT },
  },
  {
    id: 'bare-cr-in-header',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X-A: 1\rX-B: 2'])],
    statuses: '400',
    upstream: [],
  },
  { id: 'obs-fold', parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X-A: 1', ' folded'])], statuses: '400', upstream: [] },
  {
    id: 'obs-fold-content-length',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length:', ' 5'], 'hello')],
    statuses: '400',
    upstream: [],
  },
  { id: 'nul-in-header', parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X-A: a\0b'])], statuses: '400', upstream: [] },
  {
    id: 'high-bytes-in-header',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X-A: caf\xe9'])],
    ...ONE,
    upstream: [GET('/', { 'x-a': 'caf\xe9' })],
  },
  {
    id: 'header-name-underscore',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X_Forwarded_For: 10.0.0.1'])],
    ...ONE,
    upstream: [GET('/', { x_forwarded_for: undefined })],
  },
  {
    id: 'header-name-invalid-char',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X(A): 1'])],
    ...ONE,
    upstream: [GET('/', { 'x(a)': undefined })],
    builtin: { statuses: '400', upstream: [], why: LLHTTP_STRICT },
  },
  {
    id: 'header-no-colon',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'NoColonHere'])],
    ...ONE,
    upstream: [GET('/')],
    builtin: { statuses: '400', upstream: [], why: LLHTTP_STRICT },
  },
  {
    id: 'forged-x-forwarded-for',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'X-Forwarded-For: 10.0.0.1'])],
    ...ONE,
    upstream: [GET('/', { 'x-forwarded-for': '10.0.0.1, 127.0.0.1' })],
  },
  // --- Host ---
  { id: 'double-host', parts: [raw(['GET / HTTP/1.1', 'Host: a', 'Host: b'])], statuses: '400', upstream: [] },
  { id: 'host-missing-http11', parts: [raw(['GET / HTTP/1.1'])], statuses: '400', upstream: [] },
  { id: 'host-missing-http10', parts: [raw(['GET / HTTP/1.0'])], ...ONE, upstream: [GET('/', { host: undefined })] },
  { id: 'host-with-slash', parts: [raw(['GET / HTTP/1.1', 'Host: a/b'])], statuses: '400', upstream: [] },
  { id: 'host-dot-dot', parts: [raw(['GET / HTTP/1.1', 'Host: a..b'])], statuses: '400', upstream: [] },
  { id: 'host-with-space', parts: [raw(['GET / HTTP/1.1', 'Host: a b'])], statuses: '400', upstream: [] },
  {
    id: 'host-ipv6-port',
    parts: [raw(['GET / HTTP/1.1', 'Host: [::1]:8080'])],
    ...ONE,
    upstream: [GET('/', { host: '[::1]:8080' })],
  },
  { id: 'host-empty', parts: [raw(['GET / HTTP/1.1', 'Host:'])], statuses: '400', upstream: [] },
  // --- request line ---
  {
    id: 'absolute-form',
    parts: [raw(['GET http://other.example/x?y=1 HTTP/1.1', 'Host: a'])],
    ...ONE,
    upstream: [GET('/x?y=1', { host: 'a' })],
    builtin: { upstream: [GET('/x?y=1', { host: 'other.example' })], why: ABSOLUTE_HOST },
  },
  {
    id: 'absolute-form-no-path',
    parts: [raw(['GET http://other.example:8080 HTTP/1.1', 'Host: a'])],
    ...ONE,
    upstream: [GET('/', { host: 'a' })],
    builtin: { upstream: [GET('/', { host: 'other.example:8080' })], why: ABSOLUTE_HOST },
  },
  { id: 'path-bad-percent', parts: [raw(['GET /a%zzb HTTP/1.1', 'Host: x'])], statuses: '400', upstream: [] },
  {
    id: 'path-encoded-slash-climb',
    parts: [raw(['GET /a%2f..%2f..%2fetc HTTP/1.1', 'Host: x'])],
    statuses: '400',
    upstream: [],
  },
  { id: 'http-2-0', parts: [raw(['GET / HTTP/2.0', 'Host: x'])], statuses: '505', upstream: [] },
  { id: 'http-3-0', parts: [raw(['GET / HTTP/3.0', 'Host: x'])], statuses: '505', upstream: [] },
  {
    id: 'http-1-2',
    parts: [raw(['GET / HTTP/1.2', 'Host: x'])],
    ...ONE,
    upstream: [GET('/')],
    builtin: { statuses: '400', upstream: [], why: LLHTTP_STRICT },
  },
  { id: 'options-star', parts: [raw(['OPTIONS * HTTP/1.1', 'Host: x'])], statuses: '400', upstream: [] },
  {
    id: 'path-climbs-above-root',
    parts: [raw(['GET /../etc/passwd HTTP/1.1', 'Host: x'])],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'path-climbs-deep',
    parts: [raw(['GET /a/../../etc/passwd HTTP/1.1', 'Host: x'])],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'path-climbs-encoded',
    parts: [raw(['GET /%2e%2e/etc/passwd HTTP/1.1', 'Host: x'])],
    statuses: '400',
    upstream: [],
  },
  { id: 'path-dot-dot-inside', parts: [raw(['GET /a/../b HTTP/1.1', 'Host: x'])], ...ONE, upstream: [GET('/a/../b')] },
  { id: 'path-encoded-nul', parts: [raw(['GET /a%00b HTTP/1.1', 'Host: x'])], statuses: '400', upstream: [] },
  { id: 'path-not-slash', parts: [raw(['GET x HTTP/1.1', 'Host: x'])], statuses: '400', upstream: [] },
  { id: 'method-lowercase', parts: [raw(['get / HTTP/1.1', 'Host: x'])], statuses: '400', upstream: [] },
  {
    id: 'connect-method',
    parts: [raw(['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443'])],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'unknown-method',
    parts: [raw(['BREW / HTTP/1.1', 'Host: x'])],
    ...ONE,
    upstream: [{ method: 'BREW', target: '/' }],
    builtin: {
      statuses: '400',
      upstream: [],
      why: "node's parser (llhttp) knows a fixed list of methods and answers 400 to others",
    },
  },
  // --- sizes and counts ---
  {
    id: 'many-headers-then-content-length',
    parts: [
      raw(
        ['POST / HTTP/1.1', 'Host: x', ...Array.from({ length: 1500 }, (_, i) => `X-${i}: ${i}`), 'Content-Length: 5'],
        'hello',
      ),
    ],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'headers-at-the-limit',
    parts: [
      raw(
        ['POST / HTTP/1.1', 'Host: x', ...Array.from({ length: 998 }, (_, i) => `X-${i}: ${i}`), 'Content-Length: 5'],
        'hello',
      ),
    ],
    ...ONE,
    upstream: [{ ...POST_HELLO, headers: { 'x-997': '997', 'content-length': '5' } }],
  },
  {
    id: 'header-line-too-long',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(9000)}`])],
    statuses: '400',
    upstream: [],
  },
  {
    id: 'headers-too-big',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', ...Array.from({ length: 8 }, (_, i) => `X-${i}: ${'a'.repeat(5000)}`)])],
    statuses: '400',
    upstream: [],
  },
  { id: 'uri-too-long', parts: [raw([`GET /${'a'.repeat(9000)} HTTP/1.1`, 'Host: x'])], statuses: '414', upstream: [] },
  // --- several requests on one connection, and interim responses ---
  {
    id: 'pipelined-gets',
    parts: [raw(['GET /1 HTTP/1.1', 'Host: x']) + raw(['GET /2 HTTP/1.1', 'Host: x'])],
    expect: 2,
    statuses: '200 200',
    upstream: [GET('/1'), GET('/2')],
  },
  {
    id: 'pipelined-post-then-get',
    parts: [raw(['POST /1 HTTP/1.1', 'Host: x', 'Content-Length: 5'], 'hello') + raw(['GET /2 HTTP/1.1', 'Host: x'])],
    expect: 2,
    statuses: '200 200',
    upstream: [{ method: 'POST', target: '/1', body: 'hello' }, GET('/2')],
  },
  {
    id: 'pipelined-after-bad-request',
    parts: [raw(['GET / HTTP/1.1', 'Host: a', 'Host: b']) + raw(['GET /after HTTP/1.1', 'Host: x'])],
    expect: 2,
    statuses: '400',
    upstream: [],
  },
  {
    id: 'expect-100-continue',
    parts: [
      raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Expect: 100-continue']),
      { waitFor100: true },
      'hello',
    ],
    statuses: '100 200',
    upstream: [{ ...POST_HELLO, headers: { expect: undefined } }],
  },
  {
    id: 'expect-unknown',
    parts: [raw(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Expect: something-else'], 'hello')],
    ...ONE,
    upstream: [{ ...POST_HELLO, headers: { expect: undefined } }],
  },
  {
    id: 'upgrade-websocket',
    parts: [
      raw([
        'GET /ws HTTP/1.1',
        'Host: x',
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ]),
    ],
    ...ONE,
    upstream: [GET('/ws', { upgrade: undefined })],
  },
  {
    id: 'upgrade-h2c',
    parts: [
      raw([
        'GET / HTTP/1.1',
        'Host: x',
        'Connection: Upgrade, HTTP2-Settings',
        'Upgrade: h2c',
        'HTTP2-Settings: AAMAAABkAAQAAP__',
      ]),
    ],
    ...ONE,
    upstream: [GET('/', { upgrade: undefined })],
  },
  {
    id: 'hop-by-hop-request-headers',
    parts: [raw(['GET / HTTP/1.1', 'Host: x', 'Keep-Alive: timeout=5', 'TE: trailers'])],
    ...ONE,
    upstream: [GET('/', { 'keep-alive': undefined, te: undefined })],
  },
];

const NGINX_0_9 =
  'nginx 1.22 passes a response without a valid HTTP/1.x status line through as HTTP/0.9 (status 009 in its log); the built-in proxy answers 502';
const NGINX_1XX =
  'nginx 1.22 forwards an interim 1xx head as if it were final, then waits for its read timeout; the built-in proxy skips 1xx (RFC 9110 §15.2)';
const NGINX_LENIENT_LENGTH =
  'RFC 9112 §6.3: an invalid or conflicting Content-Length is an unrecoverable framing error (502); nginx 1.22 reads on';
const NGINX_HOLDS_HEAD =
  'nginx holds the head until the first body bytes parse, so a bad first chunk leaves the client nothing; the built-in proxy has sent the head';
const OK2 = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

export const RESPONSE_CASES: ResponseCase[] = [
  { id: 'plain', reply: { bytes: OK2 }, status: '200', body: 'ok' },
  {
    id: 'bare-lf-head',
    reply: { bytes: 'HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nok' },
    status: '200',
    body: 'ok',
    headers: { 'x-a': '1' },
  },
  {
    id: 'cr-in-header-value',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nok' },
    status: '502',
  },
  {
    id: 'nul-in-header-value',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nX-A: 1\0\r\nContent-Length: 2\r\n\r\nok' },
    status: '502',
  },
  {
    id: 'duplicate-cl-same',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok' },
    status: '200',
    body: 'ok',
    headers: { 'content-length': ['2'] },
  },
  {
    id: 'duplicate-cl-different',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!' },
    status: '200',
    body: 'ok!',
    builtin: { status: '502', why: NGINX_LENIENT_LENGTH },
  },
  {
    id: 'cl-and-te',
    reply: {
      bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    },
    status: '200',
    body: 'ok',
    headers: { 'content-length': undefined },
  },
  {
    id: 'te-not-chunked',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok', close: true },
    status: '200',
    body: 'ok',
  },
  {
    id: 'chunked',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\n\r\n' },
    status: '200',
    body: 'ok',
  },
  {
    id: 'chunked-extension-trailer',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nX-T: 1\r\n\r\n' },
    status: '200',
    body: 'ok',
  },
  {
    id: 'chunk-size-overflow',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nok\r\n0\r\n\r\n' },
    status: '-',
    builtin: { status: '200 truncated', why: NGINX_HOLDS_HEAD },
  },
  {
    id: 'chunk-size-invalid',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' },
    status: '-',
    builtin: { status: '200 truncated', why: NGINX_HOLDS_HEAD },
  },
  {
    id: 'chunk-invalid-after-data',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n' },
    status: '-',
    builtin: { status: '200 truncated', body: 'ok', why: NGINX_HOLDS_HEAD },
  },
  {
    id: 'cl-negative',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok' },
    status: '200 truncated',
    builtin: { status: '502', why: NGINX_LENIENT_LENGTH },
  },
  {
    id: 'cl-plus-sign',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok' },
    status: '200 truncated',
    builtin: { status: '502', why: NGINX_LENIENT_LENGTH },
  },
  {
    id: 'head-with-body',
    method: 'HEAD',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' },
    status: '200',
  },
  { id: '204-with-body', reply: { bytes: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello' }, status: '204' },
  {
    id: '304-with-body',
    reply: { bytes: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello' },
    status: '304',
  },
  {
    id: 'bytes-after-response',
    reply: { bytes: `${OK2}HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled` },
    status: '200',
    body: 'ok',
  },
  {
    id: 'interim-100',
    reply: { bytes: `HTTP/1.1 100 Continue\r\n\r\n${OK2}` },
    status: '-',
    builtin: { status: '200', body: 'ok', why: NGINX_1XX },
  },
  {
    id: 'interim-103',
    reply: { bytes: `HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n${OK2}` },
    status: '-',
    builtin: { status: '200', body: 'ok', why: NGINX_1XX },
  },
  {
    id: 'unsolicited-101',
    reply: { bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes' },
    status: '-',
    builtin: {
      status: '502',
      why: 'nothing asked to upgrade: the built-in proxy answers 502; nginx 1.22 passes the 101 on and waits for its read timeout',
    },
  },
  {
    id: 'no-length-then-close',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close', close: true },
    status: '200',
    body: 'until close',
  },
  { id: 'http10-no-length', reply: { bytes: 'HTTP/1.0 200 OK\r\n\r\nten', close: true }, status: '200', body: 'ten' },
  {
    id: 'status-four-digits',
    reply: { bytes: 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok' },
    status: '-',
    builtin: { status: '502', why: NGINX_0_9 },
  },
  {
    id: 'status-below-100',
    reply: { bytes: 'HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok' },
    status: '-',
    builtin: { status: '502', why: NGINX_0_9 },
  },
  {
    id: 'http2-status-line',
    reply: { bytes: 'HTTP/2 200\r\nContent-Length: 2\r\n\r\nok' },
    status: '-',
    builtin: { status: '502', why: NGINX_0_9 },
  },
  {
    id: 'header-without-colon',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok' },
    status: '200',
    body: 'ok',
    builtin: {
      status: '502',
      why: 'nginx skips a header line without a colon; the built-in proxy refuses the response (502)',
    },
  },
  {
    id: 'header-name-with-space',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 2\r\n\r\nok' },
    status: '502',
  },
  {
    id: 'obs-fold-response',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok' },
    status: '502',
  },
  {
    id: 'multiple-set-cookie',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok' },
    status: '200',
    headers: { 'set-cookie': ['a=1', 'b=2'] },
  },
  {
    id: 'connection-close-response',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', close: true },
    status: '200',
    body: 'ok',
  },
  {
    id: 'connection-names-header',
    reply: { bytes: 'HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nContent-Length: 2\r\n\r\nok' },
    status: '200',
    headers: { 'x-internal': 'secret' },
    builtin: {
      headers: { 'x-internal': undefined },
      why: 'RFC 9110 §7.6.1: a header named in Connection is hop-by-hop; nginx ignores the tokens',
    },
  },
  {
    id: 'head-too-big',
    reply: { bytes: `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(6000)}\r\nContent-Length: 2\r\n\r\nok` },
    status: '502',
  },
];
