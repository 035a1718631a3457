/**
 * The response parser alone, table-driven: every framing rule, each input fed whole, split at
 * every byte boundary, and one byte at a time; all three must report the same events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ResponseParser,
  type ResponseEvents,
  type ResponseHead,
  type ResponseParseError,
} from '../../src/http1/index.js';

interface Case {
  name: string;
  method?: string;
  input: string;
  /** The connection closes after the input (a close-delimited body ends there). */
  close?: boolean;
  maxHeadBytes?: number;
  /** `head STATUS framing keepAlive [headers]`, `body …`, `end` / `end+trailing`, `error REASON`. */
  expect: string[];
}

const ok = (headers: string, body = ''): string => `HTTP/1.1 200 OK\r\n${headers}\r\n\r\n${body}`;

const CASES: Case[] = [
  {
    name: 'Content-Length body',
    input: ok('Content-Length: 5', 'hello'),
    expect: ['head 200 length keep-alive [Content-Length: 5]', 'body hello', 'end'],
  },
  {
    name: 'Content-Length 0: no body',
    input: ok('Content-Length: 0'),
    expect: ['head 200 none keep-alive [Content-Length: 0]', 'end'],
  },
  {
    name: 'chunked with an extension and a trailer',
    input: ok('Transfer-Encoding: chunked', '2;x=y\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'body hello', 'end'],
  },
  {
    name: 'chunked with bare LF line ends',
    input: ok('Transfer-Encoding: chunked', '5\nhello\n0\n\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'body hello', 'end'],
  },
  {
    name: 'chunk size with spaces before CRLF',
    input: ok('Transfer-Encoding: chunked', '5  \r\nhello\r\n0\r\n\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'body hello', 'end'],
  },
  {
    name: 'Transfer-Encoding wins over Content-Length, which is dropped; not kept alive',
    input: ok('Content-Length: 100\r\nTransfer-Encoding: chunked', '2\r\nok\r\n0\r\n\r\n'),
    expect: ['head 200 chunked close [Transfer-Encoding: chunked]', 'body ok', 'end'],
  },
  {
    name: 'chunked not last: body until close',
    input: ok('Transfer-Encoding: chunked, gzip', 'raw'),
    close: true,
    expect: ['head 200 close close [Transfer-Encoding: chunked, gzip]', 'body raw', 'end'],
  },
  {
    name: 'no length: body until close',
    input: ok('X-A: 1', 'all of it'),
    close: true,
    expect: ['head 200 close close [X-A: 1]', 'body all of it', 'end'],
  },
  {
    name: 'HEAD: no body whatever the length; bytes after it are trailing',
    method: 'HEAD',
    input: ok('Content-Length: 5', 'hello'),
    expect: ['head 200 none keep-alive [Content-Length: 5]', 'end+trailing'],
  },
  {
    name: '204 with a length: no body',
    input: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
    expect: ['head 204 none keep-alive [Content-Length: 5]', 'end'],
  },
  {
    name: '304: no body',
    input: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
    expect: ['head 304 none keep-alive [ETag: "x"]', 'end'],
  },
  {
    name: 'interim 100 and 103 skipped',
    input: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${ok('Content-Length: 2', 'ok')}`,
    expect: ['head 200 length keep-alive [Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'a 101 nobody asked for',
    input: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
    expect: ['error unexpected-upgrade'],
  },
  {
    name: 'identical Content-Lengths kept once',
    input: ok('Content-Length: 2\r\nContent-Length: 2', 'ok'),
    expect: ['head 200 length keep-alive [Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'conflicting Content-Lengths',
    input: ok('Content-Length: 2\r\nContent-Length: 3', 'ok!'),
    expect: ['error bad-length'],
  },
  { name: 'negative Content-Length', input: ok('Content-Length: -2', 'ok'), expect: ['error bad-length'] },
  { name: 'Content-Length with a sign', input: ok('Content-Length: +2', 'ok'), expect: ['error bad-length'] },
  { name: 'hex Content-Length', input: ok('Content-Length: 0x2', 'ok'), expect: ['error bad-length'] },
  { name: 'Content-Length list', input: ok('Content-Length: 2, 2', 'ok'), expect: ['error bad-length'] },
  {
    name: 'bare LF head',
    input: 'HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nok',
    expect: ['head 200 length keep-alive [Content-Length: 2|X-A: 1]', 'body ok', 'end'],
  },
  {
    name: 'bare LF line, CRLF blank line',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok',
    expect: ['head 200 length keep-alive [Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'bare LF head whose body holds a CRLFCRLF',
    input: 'HTTP/1.1 200 OK\nContent-Length: 6\n\na\r\n\r\nb',
    expect: ['head 200 length keep-alive [Content-Length: 6]', 'body a\r\n\r\nb', 'end'],
  },
  {
    name: 'head past the limit',
    input: ok(`X-Big: ${'a'.repeat(200)}\r\nContent-Length: 0`),
    maxHeadBytes: 128,
    expect: ['error head-too-big'],
  },
  {
    name: 'head past the limit, never ending',
    input: `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(200)}`,
    maxHeadBytes: 128,
    expect: ['error head-too-big'],
  },
  { name: 'four-digit status', input: 'HTTP/1.1 2000 OK\r\n\r\n', expect: ['error bad-status-line'] },
  { name: 'status below 100', input: 'HTTP/1.1 099 Low\r\n\r\n', expect: ['error bad-status-line'] },
  { name: 'HTTP/2 status line', input: 'HTTP/2 200\r\n\r\n', expect: ['error bad-status-line'] },
  { name: 'not HTTP at all', input: 'SSH-2.0-OpenSSH\r\n\r\n', expect: ['error bad-status-line'] },
  {
    name: 'status without a reason phrase',
    input: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n',
    expect: ['head 200 none keep-alive [Content-Length: 0]', 'end'],
  },
  { name: 'header without a colon', input: ok('NoColon\r\nContent-Length: 0'), expect: ['error bad-header'] },
  { name: 'header name with a space', input: ok('X A: 1\r\nContent-Length: 0'), expect: ['error bad-header'] },
  { name: 'obs-fold', input: ok('X-A: 1\r\n folded\r\nContent-Length: 0'), expect: ['error bad-header'] },
  { name: 'CR inside a value', input: ok('X-A: 1\rX-B: 2\r\nContent-Length: 0'), expect: ['error bad-header'] },
  { name: 'NUL inside a value', input: ok('X-A: a\0b\r\nContent-Length: 0'), expect: ['error bad-header'] },
  { name: 'DEL inside a value', input: ok('X-A: a\x7fb\r\nContent-Length: 0'), expect: ['error bad-header'] },
  {
    name: 'a control in the reason phrase',
    input: 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n',
    expect: ['error bad-status-line'],
  },
  {
    name: 'a bare CR in the reason phrase',
    input: 'HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n',
    expect: ['error bad-status-line'],
  },
  {
    name: 'a bare CR right before the blank line',
    input: 'HTTP/1.1 200 OK\r\nX-A: 1\r\r\n\r\n',
    expect: ['error bad-header'],
  },
  { name: 'a bare CR in a header name', input: ok('X\rA: 1\r\nContent-Length: 0'), expect: ['error bad-header'] },
  {
    name: 'Content-Length copies that differ only in form (2, 02)',
    input: ok('Content-Length: 2\r\nContent-Length: 02', 'ok'),
    expect: ['error bad-length'],
  },
  {
    name: 'a 16-digit Content-Length',
    input: ok('Content-Length: 1234567890123456', 'ok'),
    expect: ['error bad-length'],
  },
  { name: 'an empty Content-Length', input: ok('Content-Length: ', 'ok'), expect: ['error bad-length'] },
  {
    name: 'a bad Content-Length under Transfer-Encoding is dropped with it, not refused',
    input: ok('Transfer-Encoding: chunked\r\nContent-Length: abc', '2\r\nok\r\n0\r\n\r\n'),
    expect: ['head 200 chunked close [Transfer-Encoding: chunked]', 'body ok', 'end'],
  },
  {
    name: 'HEAD: a bad Content-Length frames nothing, so nothing is refused',
    method: 'HEAD',
    input: ok('Content-Length: -1'),
    expect: ['head 200 none keep-alive [Content-Length: -1]', 'end'],
  },
  {
    name: 'OWS (spaces, tabs) around a value dropped',
    input: ok('X-A: \t v 1 \t\r\nContent-Length:2', 'ok'),
    expect: ['head 200 length keep-alive [X-A: v 1|Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'obs-text in a value kept',
    input: ok('X-A: caf\xe9\r\nContent-Length: 0'),
    expect: ['head 200 none keep-alive [X-A: caf\xe9|Content-Length: 0]', 'end'],
  },
  {
    name: 'framing names in any case',
    input: ok('CONTENT-LENGTH: 2\r\ncOnNeCtIoN: Close', 'ok'),
    expect: ['head 200 length close [CONTENT-LENGTH: 2|cOnNeCtIoN: Close]', 'body ok', 'end'],
  },
  {
    name: 'a name one letter off a framing name is just a header',
    input: ok('Content-Lengths: 5\r\nContent-Length: 2', 'ok'),
    expect: ['head 200 length keep-alive [Content-Lengths: 5|Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'chunk size overflow',
    input: ok('Transfer-Encoding: chunked', 'FFFFFFFFFFFFFFFFFFFF\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'error bad-chunk'],
  },
  {
    name: 'negative chunk size',
    input: ok('Transfer-Encoding: chunked', '-5\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'error bad-chunk'],
  },
  {
    name: 'chunk size 0x-prefixed',
    input: ok('Transfer-Encoding: chunked', '0x5\r\nhello\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'error bad-chunk'],
  },
  {
    name: 'chunk size then garbage',
    input: ok('Transfer-Encoding: chunked', '5 6\r\nhello\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'error bad-chunk'],
  },
  {
    name: 'chunk data longer than its size',
    input: ok('Transfer-Encoding: chunked', '2\r\nokXX\r\n'),
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'body ok', 'error bad-chunk'],
  },
  {
    name: 'HTTP/1.0 closes by default',
    input: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
    expect: ['head 200 length close [Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    input: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
    expect: ['head 200 length keep-alive [Connection: keep-alive|Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'Connection: close',
    input: ok('Connection: close\r\nContent-Length: 2', 'ok'),
    expect: ['head 200 length close [Connection: close|Content-Length: 2]', 'body ok', 'end'],
  },
  {
    name: 'a closed token inside another word is not close',
    input: ok('Connection: x-closed\r\nContent-Length: 0'),
    expect: ['head 200 none keep-alive [Connection: x-closed|Content-Length: 0]', 'end'],
  },
  {
    name: 'bytes after a complete response',
    input: `${ok('Content-Length: 2', 'ok')}HTTP/1.1 200 OK\r\n\r\n`,
    expect: ['head 200 length keep-alive [Content-Length: 2]', 'body ok', 'end+trailing'],
  },
  {
    name: 'bytes after a chunked response',
    input: `${ok('Transfer-Encoding: chunked', '0\r\n\r\n')}junk`,
    expect: ['head 200 chunked keep-alive [Transfer-Encoding: chunked]', 'end+trailing'],
  },
  {
    name: 'a close in the middle of the head',
    input: 'HTTP/1.1 200 OK\r\nContent-Len',
    close: true,
    expect: ['premature head'],
  },
  {
    name: 'a close in the middle of a length body',
    input: ok('Content-Length: 5', 'he'),
    close: true,
    expect: ['head 200 length keep-alive [Content-Length: 5]', 'body he', 'premature body'],
  },
];

/** Runs `c` with its input cut into `pieces`; returns the events, data joined. */
function run(c: Case, pieces: string[]): string[] {
  const events: string[] = [];
  let body = '';
  const flush = (): void => {
    if (body !== '') events.push(`body ${body}`);
    body = '';
  };
  const handler: ResponseEvents = {
    onHead(head: ResponseHead) {
      const headers: string[] = [];
      for (let i = 0; i < head.rawHeaders.length; i += 2)
        headers.push(`${head.rawHeaders[i]}: ${head.rawHeaders[i + 1]}`);
      events.push(
        `head ${head.statusCode} ${head.framing} ${head.keepAlive ? 'keep-alive' : 'close'} [${headers.join('|')}]`,
      );
    },
    onData(chunk: Buffer) {
      body += chunk.toString('latin1');
    },
    onEnd(last: Buffer | undefined, trailing: boolean) {
      if (last) body += last.toString('latin1');
      flush();
      events.push(trailing ? 'end+trailing' : 'end');
    },
    onError(error: ResponseParseError) {
      flush();
      events.push(`error ${error.reason}`);
    },
  };
  const parser = new ResponseParser(handler, c.maxHeadBytes === undefined ? {} : { maxHeadBytes: c.maxHeadBytes });
  parser.expect(c.method ?? 'GET');
  for (const piece of pieces) {
    // A real connection stops feeding once the response ended; bytes it then reads belong to
    // nobody, as if they had come in the read that ended the response (the connection is dropped).
    if (parser.idle) {
      if (piece !== '' && events.at(-1) === 'end') events[events.length - 1] = 'end+trailing';
      break;
    }
    parser.execute(Buffer.from(piece, 'latin1'));
  }
  if (c.close && !parser.idle) {
    const inHead = parser.inHead;
    if (!parser.finish()) {
      flush();
      events.push(inHead ? 'premature head' : 'premature body');
    }
  }
  flush();
  return events;
}

for (const c of CASES) {
  test(`response parser: ${c.name}`, () => {
    assert.deepEqual(run(c, [c.input]), c.expect, 'whole');
    for (let cut = 1; cut < c.input.length; cut++) {
      assert.deepEqual(run(c, [c.input.slice(0, cut), c.input.slice(cut)]), c.expect, `split at ${cut}`);
    }
    assert.deepEqual(run(c, [...c.input]), c.expect, 'byte by byte');
  });
}

test('response parser: one parser, many responses (keep-alive), and a callback that stops it mid-read', () => {
  const ends: string[] = [];
  let parser!: ResponseParser;
  const handler: ResponseEvents = {
    onHead: (head) => {
      if (head.statusCode === 299) parser.stop();
    },
    onData: () => {},
    onEnd: () => ends.push('end'),
    onError: (e) => ends.push(e.reason),
  };
  parser = new ResponseParser(handler);
  for (let i = 0; i < 3; i++) {
    parser.expect('GET');
    parser.execute(Buffer.from(ok('Content-Length: 2', 'ok')));
  }
  parser.expect('GET');
  parser.execute(Buffer.from('HTTP/1.1 299 Stop\r\nContent-Length: 2\r\n\r\nok'));
  assert.deepEqual(ends, ['end', 'end', 'end']);
  assert.equal(parser.idle, true);
});

test('response parser: the reason phrase is read for a proxy, not without raw headers; both modes refuse the same bytes', () => {
  const heads: ResponseHead[] = [];
  const errors: string[] = [];
  const handler: ResponseEvents = {
    onHead: (h) => heads.push(h),
    onData: () => {},
    onEnd: () => {},
    onError: (e) => errors.push(e.reason),
  };
  for (const rawHeaders of [true, false]) {
    const parser = new ResponseParser(handler, { rawHeaders });
    parser.expect('GET');
    parser.execute(Buffer.from('HTTP/1.1 404 Not Found\r\nX-A: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    parser.expect('GET');
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n'));
  }
  assert.deepEqual(
    heads.map((h) => [h.statusCode, h.statusMessage, h.rawHeaders.length, h.connection, h.keepAlive]),
    [
      [404, 'Not Found', 6, 'close', false],
      [404, '', 0, 'close', false],
    ],
  );
  assert.deepEqual(errors, ['bad-header', 'bad-header']);
});
