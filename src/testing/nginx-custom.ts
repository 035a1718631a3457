/**
 * A real nginx with a hand-written config, for provoking the proxy-side causes that runNginx's
 * generated config cannot express (worker_rlimit_nofile, an upstream group with max_fails,
 * proxy_buffer_size …). Kept in test code on purpose: these configs are broken by design and have
 * no place in src/proxy. Everything lives in a temp prefix; nginx runs `daemon off` in its own
 * process group, which close() (or this process exiting) kills.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { findFreePort, findNginx } from '../proxy/index.js';
import { createTempDir, sleep } from '../util/index.js';
import { spawnGroupChild } from './process-group.js';

/** The parts of nginx.conf a case chooses; the rest (prefix paths, listen, ready probe) is fixed. */
export interface CustomNginxConfig {
  /** Main-context directives (`worker_rlimit_nofile 16;`). */
  main?: string[];
  /** Inside `events {}`; default `worker_connections 64;`. */
  events?: string[];
  /** Inside `http {}` before the server (upstream groups). */
  http?: string[];
  /** Inside `location / {}`. */
  location: string[];
  /**
   * Listen on a unix socket in the prefix instead of a free TCP port: clients then use no local
   * port (the ephemeral-ports case leaves only two of them to nginx's upstream connections).
   */
  unixSocket?: boolean;
}

export interface CustomNginx {
  /** `http://127.0.0.1:PORT`, or `unix:PATH` with {@link CustomNginxConfig.unixSocket}. */
  url: string;
  pid: number;
  /** The worker's pid (worker_processes 1), read from the `start worker process` notice. */
  workerPid: number;
  config: string;
  readErrorLog(): Promise<string>;
  close(): Promise<void>;
}

const READY_PATH = '/__ready';

/** Starts nginx with `parts`; throws with nginx's stderr when it does not come up within 10 s. */
export async function startCustomNginx(parts: CustomNginxConfig): Promise<CustomNginx> {
  const nginx = findNginx();
  if (!nginx) throw new Error('nginx is not installed');
  const dir = await createTempDir('ngx');
  const errorLog = dir.file('error.log');
  await mkdir(dir.file('tmp'));
  await writeFile(errorLog, '');
  const socketPath = parts.unixSocket ? dir.file('nginx.sock') : undefined;
  const listen = socketPath ? `unix:${socketPath}` : `127.0.0.1:${await findFreePort()}`;
  const config = [
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    'daemon off;',
    `pid ${dir.file('nginx.pid')};`,
    `error_log ${errorLog} info;`,
    ...(parts.main ?? []),
    'events {',
    ...(parts.events ?? ['worker_connections 64;']),
    '}',
    'http {',
    `client_body_temp_path ${dir.file('tmp')}/body;`,
    `proxy_temp_path ${dir.file('tmp')}/proxy;`,
    `fastcgi_temp_path ${dir.file('tmp')}/fastcgi;`,
    `uwsgi_temp_path ${dir.file('tmp')}/uwsgi;`,
    `scgi_temp_path ${dir.file('tmp')}/scgi;`,
    'access_log off;',
    ...(parts.http ?? []),
    'server {',
    `listen ${listen};`,
    'server_name localhost;',
    `location = ${READY_PATH} { return 204; }`,
    'location / {',
    ...parts.location,
    '}',
    '}',
    '}',
    '',
  ].join('\n');
  await writeFile(dir.file('nginx.conf'), config);
  const server = spawnGroupChild(nginx, ['-p', `${dir.path}/`, '-c', dir.file('nginx.conf'), '-e', errorLog]);
  const { child, pid } = server;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await server.kill();
      await dir.close();
    })());
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`nginx did not start: ${server.stderr.trim() || 'no answer within 10 s'}\n${config}`);
    }
    if ((await probe(listen)) === 204) break;
    await sleep(20);
  }
  const workerPid = Number(/start worker process (\d+)/.exec(await readFile(errorLog, 'utf8'))?.[1] ?? 0);
  const url = socketPath ? `unix:${socketPath}` : `http://${listen}`;
  return { url, pid, workerPid, config, readErrorLog: () => readFile(errorLog, 'utf8'), close };
}

function probe(listen: string): Promise<number | undefined> {
  const where = listen.startsWith('unix:')
    ? { socketPath: listen.slice(5) }
    : { host: '127.0.0.1', port: Number(listen.split(':')[1]) };
  return new Promise((resolve) => {
    const req = request({ ...where, path: READY_PATH, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
