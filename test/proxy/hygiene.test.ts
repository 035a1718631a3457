/**
 * Request hygiene, differentially: every case of hygiene-cases.ts goes through real nginx and
 * through the built-in proxy (run as `badgateway proxy --builtin`, a separate process, so a crash
 * shows) in front of one recording upstream each, with an upstream keep-alive pool, so a request
 * smuggled onto a pooled connection would reach the upstream. For each case: the client's
 * statuses, exactly the requests the upstream parsed, and a probe request afterwards that must
 * come back clean (no leftover bytes on a pooled connection, no answer meant for someone else).
 *
 * BG_HYGIENE_PRINT=1 prints what each proxy did, to record nginx's behaviour into the corpus.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { findNginx, startProxy, type ProxyHandle } from '../../src/proxy/index.js';
import { BIN } from '../../src/testing/index.js';
import { rawExchange, type RawExchange } from './raw-client.js';
import { startRecordingUpstream, type RecordingUpstream, type SeenRequest } from './recording-upstream.js';
import {
  REQUEST_CASES,
  RESPONSE_CASES,
  raw,
  type ExpectedRequest,
  type RequestCase,
  type ResponseCase,
} from './hygiene-cases.js';

const NGINX = findNginx();
const PRINT = process.env['BG_HYGIENE_PRINT'] === '1';
const PROXY_OPTIONS = { keepalive: 2, connectTimeoutMs: 1000, readTimeoutMs: 1000, sendTimeoutMs: 1000 };

interface Target {
  port: number;
  upstream: RecordingUpstream;
  /** The built-in proxy's process output, to show it never crashed or warned. */
  stderr: () => string;
  alive: () => boolean;
  close(): Promise<void>;
}

async function startNginxTarget(): Promise<Target> {
  const upstream = await startRecordingUpstream();
  const proxy: ProxyHandle = await startProxy({ kind: 'nginx', upstream: upstream.upstream, ...PROXY_OPTIONS });
  return {
    port: proxy.port,
    upstream,
    stderr: () => '',
    alive: () => true,
    close: async () => {
      await proxy.close();
      await upstream.close();
    },
  };
}

async function startBuiltinTarget(): Promise<Target> {
  const upstream = await startRecordingUpstream();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      'proxy',
      '--builtin',
      '--upstream',
      upstream.upstream,
      '--upstream-keepalive',
      '2',
      '--connect-timeout',
      '1s',
      '--read-timeout',
      '1s',
      '--send-timeout',
      '1s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`the built-in proxy exited (${code}) before it was ready: ${stderr}`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^proxying http:\/\/127\.0\.0\.1:(\d+) /.exec(line);
      if (m) resolve(Number(m[1]));
    });
  });
  return {
    port,
    upstream,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await upstream.close();
    },
  };
}

const statusesOf = (ex: RawExchange): string =>
  ex.responses.length === 0 ? '-' : ex.responses.map((r) => r.status).join(' ');

function header(req: SeenRequest, name: string): string | undefined {
  const values = req.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(', ');
}

/** The upstream saw exactly `expected`: same requests, bodies framed by the length sent. */
function assertSeen(seen: SeenRequest[], expected: ExpectedRequest[], label: string): void {
  const shown = JSON.stringify(
    seen.map((r) => `${r.method} ${r.target} ${r.framing} ${JSON.stringify(r.body.slice(0, 40))}`),
  );
  assert.equal(seen.length, expected.length, `${label}: the upstream saw ${shown}`);
  expected.forEach((want, i) => {
    const got = seen[i]!;
    assert.equal(`${got.method} ${got.target}`, `${want.method} ${want.target}`, `${label}: request ${i + 1}`);
    if (want.body !== undefined) assert.equal(got.body, want.body, `${label}: body of request ${i + 1}`);
    // Whatever the client used, a body reaches the upstream framed by a Content-Length it can trust.
    if (got.body.length > 0)
      assert.equal(
        header(got, 'content-length'),
        String(Buffer.byteLength(got.body, 'latin1')),
        `${label}: framed by length`,
      );
    assert.ok(
      got.headers.filter(([n]) => /^(content-length|transfer-encoding|host)$/i.test(n)).length <= 2,
      `${label}: framing headers once`,
    );
    for (const [name, value] of Object.entries(want.headers ?? {}))
      assert.equal(header(got, name), value, `${label}: header ${name}`);
  });
}

/** A fresh request after the case: answered by its own response, and nothing else on the upstream. */
async function probe(target: Target, id: string): Promise<void> {
  target.upstream.reset();
  const path = `/probe/${id}`;
  const ex = await rawExchange(target.port, [raw([`GET ${path} HTTP/1.1`, 'Host: probe'])]);
  assert.equal(statusesOf(ex), '200', `probe after ${id}`);
  assert.match(ex.responses[0]!.body, new RegExp(`^seen GET ${path} #`), `probe after ${id} got its own answer`);
  assert.deepEqual(
    target.upstream.seen.map((r) => `${r.method} ${r.target}`),
    [`GET ${path}`],
    `after ${id} the upstream saw only the probe`,
  );
  assert.deepEqual(target.upstream.garbage, [], `after ${id}: no leftover bytes on an upstream connection`);
}

async function runRequestCase(target: Target, c: RequestCase): Promise<{ statuses: string; seen: SeenRequest[] }> {
  target.upstream.reset();
  target.upstream.setReplies(new Map());
  const ex = await rawExchange(target.port, c.parts, {
    expect: c.expect ?? 1,
    timeoutMs: 2500,
    ...(c.methods ? { methods: c.methods } : {}),
  });
  // Give a request the proxy forwarded a moment to be parsed upstream.
  await new Promise((r) => setTimeout(r, 30));
  return { statuses: statusesOf(ex), seen: [...target.upstream.seen] };
}

async function runResponseCase(
  target: Target,
  c: ResponseCase,
): Promise<{ status: string; body: string; headers: [string, string][] }> {
  target.upstream.reset();
  const path = `/case/${c.id}`;
  target.upstream.setReplies(new Map([[path, c.reply]]));
  const method = c.method ?? 'GET';
  const ex = await rawExchange(target.port, [raw([`${method} ${path} HTTP/1.1`, 'Host: x'])], {
    methods: [method],
    timeoutMs: 2500,
  });
  const final = ex.responses.find((r) => r.status >= 200);
  return {
    status: final ? `${final.status}${final.complete ? '' : ' truncated'}` : '-',
    body: final?.body ?? '',
    headers: final?.headers ?? [],
  };
}

for (const kind of ['nginx', 'builtin'] as const) {
  describe(`request hygiene: ${kind}`, { concurrency: false }, () => {
    const skip = kind === 'nginx' && !NGINX ? 'nginx is not installed' : false;
    if (skip) console.log('# skipping the nginx hygiene corpus: nginx is not installed (apt-get install nginx-light)');
    let target: Target;
    before(async () => {
      if (!skip) target = kind === 'nginx' ? await startNginxTarget() : await startBuiltinTarget();
    });
    after(async () => {
      await target?.close();
    });

    for (const c of REQUEST_CASES) {
      test(`request: ${c.id}`, { skip, timeout: 15_000 }, async () => {
        const got = await runRequestCase(target, c);
        const want = kind === 'builtin' && c.builtin ? { ...c, ...c.builtin } : c;
        if (PRINT)
          console.log(
            `# ${kind} ${c.id}: ${got.statuses} | ${got.seen.map((r) => `${r.method} ${r.target} ${JSON.stringify(r.body.slice(0, 30))}`).join(', ')}`,
          );
        assert.equal(got.statuses, want.statuses, `${c.id}: statuses`);
        assertSeen(got.seen, want.upstream, c.id);
        await probe(target, c.id);
      });
    }

    for (const c of RESPONSE_CASES) {
      test(`response: ${c.id}`, { skip, timeout: 15_000 }, async () => {
        const got = await runResponseCase(target, c);
        // A documented difference in status replaces what the case pins about the body too.
        const want =
          kind === 'builtin' && c.builtin ? { ...(c.builtin.status ? { status: c.status } : c), ...c.builtin } : c;
        if (PRINT) console.log(`# ${kind} response ${c.id}: ${got.status} ${JSON.stringify(got.body.slice(0, 30))}`);
        assert.equal(got.status, want.status, `${c.id}: status`);
        if (want.body !== undefined) assert.equal(got.body, want.body, `${c.id}: body`);
        for (const [name, value] of Object.entries(want.headers ?? {})) {
          const values = got.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
          if (value === undefined) assert.deepEqual(values, [], `${c.id}: header ${name} absent`);
          else assert.deepEqual(values, Array.isArray(value) ? value : [value], `${c.id}: header ${name}`);
        }
        await probe(target, `r-${c.id}`);
      });
    }

    test('the proxy process is alive and printed no warning', { skip }, () => {
      assert.ok(target.alive(), 'still running');
      assert.equal(target.stderr(), '', 'nothing on stderr');
    });
  });
}
