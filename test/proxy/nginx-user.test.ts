/**
 * nginx started by badgateway as root runs its workers as nginx's default `nobody`, as a real
 * deployment does, whenever that user can reach the upstream; `root` only when it cannot (a socket
 * in a private dir), so the proxy still fails only for the upstream's reasons.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { chooseWorkerUser, findNginx, runNginx, type NginxHandle } from '../../src/proxy/index.js';
import { createTempDir, waitFor } from '../../src/util/index.js';

const skip = !findNginx()
  ? 'nginx is not installed'
  : process.getuid?.() !== 0
    ? 'only nginx started as root switches its workers to another user'
    : false;

/** The uid the nginx workers (children of the master) run as. */
function workerUids(nginx: NginxHandle): number[] {
  const children = readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return children.map((pid) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]));
}

function post(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function echoServer(listen: (server: Server) => Promise<void>): Promise<Server> {
  const server = createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => res.end(`got ${n}`));
  });
  await listen(server);
  return server;
}

test('TCP upstream: workers run as nobody; a 2 MiB body goes through the temp path they write', {
  skip,
  timeout: 20_000,
}, async () => {
  const upstream = await echoServer((s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r())));
  const port = (upstream.address() as { port: number }).port;
  const nginx = await runNginx({ upstream: `http://127.0.0.1:${port}` });
  try {
    assert.match(nginx.workerUser ?? '', /^nobody \S+$/);
    assert.match(nginx.config, /^user nobody \S+;$/m);
    const uids = await waitFor('a worker', () => (workerUids(nginx).length > 0 ? workerUids(nginx) : undefined), {
      timeoutMs: 5000,
    });
    assert.deepEqual([...new Set(uids)], [65534]);
    // Bigger than client_body_buffer_size would be with nginx's 16 KiB default: here 1 MiB, so this spills.
    assert.deepEqual(await post(`${nginx.url}/`, Buffer.alloc(2 * 1024 * 1024, 'x')), {
      status: 200,
      body: `got ${2 * 1024 * 1024}`,
    });
  } finally {
    await nginx.close();
    upstream.close();
  }
});

test('unix socket: nobody when it may connect, root when the socket sits in a private dir', {
  skip,
  timeout: 20_000,
}, async () => {
  const dir = await createTempDir('user');
  const servers: Server[] = [];
  try {
    await chmod(dir.path, 0o755);
    const open = `${dir.path}/open`;
    const closed = `${dir.path}/closed`;
    await mkdir(open, { mode: 0o755 });
    await mkdir(closed, { mode: 0o700 });
    for (const path of [`${open}/app.sock`, `${closed}/app.sock`]) {
      servers.push(await echoServer((s) => new Promise((r) => s.listen(path, () => r()))));
      await chmod(path, 0o666);
    }
    assert.match(chooseWorkerUser({ kind: 'unix', path: `${open}/app.sock`, url: '' }).user, /^nobody /);
    assert.match(
      chooseWorkerUser({ kind: 'unix', path: `${open}/missing.sock`, url: '' }).user,
      /^nobody /,
      'a missing socket in a reachable dir',
    );
    const denied = chooseWorkerUser({ kind: 'unix', path: `${closed}/app.sock`, url: '' });
    assert.equal(denied.user, 'root');
    assert.match(denied.reason, /no search \(x\) permission for other on the directory .*\/closed$/);

    for (const [path, user] of [
      [`${open}/app.sock`, /^nobody /],
      [`${closed}/app.sock`, /^root$/],
    ] as const) {
      const nginx = await runNginx({ upstream: `unix:${path}` });
      try {
        assert.match(nginx.workerUser ?? '', user);
        assert.deepEqual(await post(`${nginx.url}/`, Buffer.from('hello')), { status: 200, body: 'got 5' });
      } finally {
        await nginx.close();
      }
    }
  } finally {
    for (const s of servers) s.close();
    await dir.close();
  }
});
