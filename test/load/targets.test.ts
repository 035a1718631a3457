import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createTempDir } from '../../src/util/index.js';
import {
  createConstantPacer,
  createTarget,
  createTargeter,
  parseTargets,
  readTargetsFile,
  UNIX_SOCKET_URL,
} from '../../src/load/index.js';

test("vegeta's http targets format: methods, headers, @body relative to the file, comments", async () => {
  const dir = await createTempDir('load');
  try {
    writeFileSync(dir.file('body.json'), '{"a":1}');
    writeFileSync(
      dir.file('targets.txt'),
      [
        '# two targets',
        'GET http://127.0.0.1:8080/',
        'X-Trace: abc',
        '',
        'POST http://127.0.0.1:8080/api?x=1',
        'Content-Type: application/json',
        '@body.json',
        'GET http://127.0.0.1:8080/next',
        '',
      ].join('\n'),
    );
    const targets = readTargetsFile(dir.file('targets.txt'));
    assert.equal(targets.length, 3);
    assert.deepEqual(targets[0], { method: 'GET', url: 'http://127.0.0.1:8080/', headers: { 'X-Trace': 'abc' } });
    assert.equal(targets[1]!.method, 'POST');
    assert.equal(targets[1]!.url, 'http://127.0.0.1:8080/api?x=1');
    assert.deepEqual(targets[1]!.headers, { 'Content-Type': 'application/json' });
    assert.equal(Buffer.from(targets[1]!.body!).toString(), '{"a":1}');
    assert.deepEqual(targets[2], { method: 'GET', url: 'http://127.0.0.1:8080/next', headers: {} });
  } finally {
    await dir.close();
  }
});

test('JSON lines targets, with vegeta-style array headers and base64 bodies', () => {
  const targets = parseTargets(
    [
      '{"method":"post","url":"http://127.0.0.1/x","headers":{"A":"1"},"body":"hi"}',
      '{"url":"http://127.0.0.1/y","header":{"B":["2","3"]},"bodyBase64":"aGk="}',
    ].join('\n'),
  );
  assert.deepEqual(targets[0], { method: 'POST', url: 'http://127.0.0.1/x', headers: { A: '1' }, body: 'hi' });
  assert.equal(targets[1]!.method, 'GET');
  assert.deepEqual(targets[1]!.headers, { B: '2, 3' });
  assert.equal(Buffer.from(targets[1]!.body!).toString(), 'hi');
});

test('bad targets name the file and line', async () => {
  const cases: [string, RegExp][] = [
    ['', /t\.txt: no targets/],
    ['Header: x\nGET http://a/', /t\.txt:1: expected "METHOD URL"/],
    ['GET http://a/\nnot a header', /t\.txt:2: expected "Header: value"/],
    ['{"url":"http://a/"}\n{nope', /t\.txt:2: not valid JSON/],
    ['{"method":"GET"}', /t\.txt:1: missing "url"/],
    ['{"url":"ftp://a/"}', /t\.txt:1: "ftp:\/\/a\/" is not an absolute http:\/\/ URL/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseTargets(text, { source: 't.txt', baseDir: '/nonexistent' }),
      { code: 'BG_BAD_OPTION', message },
      text,
    );
  }
  assert.throws(() => readTargetsFile('/nonexistent/targets.txt'), { code: 'BG_UNREADABLE', message: /ENOENT/ });
  // An unreadable body file is the same error whether a targets file or --body names it.
  assert.throws(() => parseTargets('GET http://a/\n@missing.bin', { source: 't.txt', baseDir: '/nonexistent' }), {
    code: 'BG_UNREADABLE',
    message: /^t\.txt:2: cannot read body file \/nonexistent\/missing\.bin \(ENOENT\)$/,
  });
  assert.throws(() => createTarget({ url: 'http://a/', body: { file: '/nonexistent/b.json' } }, { naming: 'flags' }), {
    code: 'BG_UNREADABLE',
    message: /^--body: cannot read body file \/nonexistent\/b\.json \(ENOENT\)$/,
  });
});

test('createTarget: one path from flags or options to a target', () => {
  assert.deepEqual(createTarget({ url: 'http://127.0.0.1:8080' }), {
    method: 'GET',
    url: 'http://127.0.0.1:8080/',
    headers: {},
  });
  assert.deepEqual(
    createTarget({
      method: 'post',
      url: 'http://a/x',
      headers: ['Content-Type: application/json', 'X-A:1'],
      body: '{}',
    }),
    {
      method: 'POST',
      url: 'http://a/x',
      headers: { 'Content-Type': 'application/json', 'X-A': '1' },
      body: '{}',
    },
  );
  // Over a unix socket the URL is only Host and path: defaulted here, once.
  assert.equal(createTarget({}, { unixSocket: true }).url, UNIX_SOCKET_URL);
  const bad: [Parameters<typeof createTarget>, RegExp][] = [
    [[{}], /^url: "" is not valid \(expected a target URL like http:\/\/127\.0\.0\.1:8080\/ \(or targets\)\)$/],
    [[{}, { naming: 'flags' }], /^url: "" is not valid \(expected a target URL like .* \(or --targets FILE\)\)$/],
    [[{ url: 'ftp://a/' }], /^url: "ftp:\/\/a\/" is not valid/],
    [[{ url: 'http://a/', method: 'G E T' }, { naming: 'flags' }], /^--method: "G E T" is not valid/],
    [[{ url: 'http://a/', headers: ['no-colon'] }, { naming: 'flags' }], /^--header: "no-colon" is not valid/],
    [
      [{ url: 'http://a/', headers: { 'X-A': 'a\r\nX-Injected: 1' } }],
      /^headers: "X-A: a\\r\\nX-Injected: 1" is not valid/,
    ],
    [[{ url: 'http://a/', headers: { 'X A': '1' } }], /^headers: "X A: 1" is not valid/],
  ];
  for (const [args, message] of bad)
    assert.throws(() => createTarget(...args), { code: 'BG_BAD_OPTION', message }, String(message));
});

test('the targeter is round-robin; the pacer spaces requests 1/rate apart', () => {
  const t = createTargeter(3);
  assert.deepEqual([t.next(), t.next(), t.next(), t.next(), t.next()], [0, 1, 2, 0, 1]);
  const pacer = createConstantPacer(200);
  assert.equal(pacer.dueMs(0), 0);
  assert.equal(pacer.dueMs(3), 15);
  assert.equal(pacer.countWithin(1000), 200);
  assert.equal(createConstantPacer(3).countWithin(1000), 3);
  assert.equal(createConstantPacer(0.5).countWithin(1000), 1);
  assert.equal(createConstantPacer(5000).countWithin(10_000), 50_000);
  assert.equal(createConstantPacer(7).countWithin(500), 4); // due at 0, 143, 286, 429 ms
});
