import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import { checkSearchAccess, checkSocketAccess, readAccountDb, resolveUserSpec } from '../proc/index.js';
import { createTempDir, debug, stopChild, which } from '../util/index.js';
import { onProcessExit } from './cleanup.js';
import { checkListenPort, findFreePort } from './free-port.js';
import { killGroup, waitUntilAnswering, withParentDeathSignal } from './process.js';
import { ACCESS_LOG_FORMAT } from './log-format.js';
import {
  resolveProxyOptions,
  type ProxyHandle,
  type ProxyOptions,
  type ResolvedProxyOptions,
  type Upstream,
} from './options.js';

/** How to install nginx when it is missing (Debian/Ubuntu; the light flavour is enough). */
export const NGINX_INSTALL_HINT =
  'install nginx (Debian/Ubuntu: apt-get install nginx-light) or use the built-in proxy (--builtin)';

/**
 * Path of the nginx binary, or `undefined`: `$BADGATEWAY_NGINX` when set (a path, or empty for
 * "pretend nginx is absent"), else PATH, then /usr/sbin, /sbin, /usr/local/sbin.
 */
export function findNginx(): string | undefined {
  const override = process.env['BADGATEWAY_NGINX'];
  if (override !== undefined) return override === '' ? undefined : which(override);
  return which('nginx');
}

/** Files of one nginx instance, all inside its prefix directory. */
export interface NginxPaths {
  prefix: string;
  conf: string;
  pid: string;
  errorLog: string;
  accessLog: string;
  temp: string;
}

/** The nginx handle: the common {@link ProxyHandle} plus the generated config. */
export interface NginxHandle extends ProxyHandle {
  readonly kind: 'nginx';
  readonly configPath: string;
  readonly config: string;
  /**
   * Who the workers run as: `nobody nogroup` (nginx's default, as in a real deployment) when nginx
   * was started as root and the upstream is reachable by that user, `root` when it is not (see
   * {@link chooseWorkerUser}) or when asked; `null` when nginx was not started as root (the workers
   * then run as this process's user).
   */
  readonly workerUser: string | null;
}

/** Options of {@link runNginx}: the common ones plus where nginx lives. */
export interface NginxOptions extends ProxyOptions {
  /** nginx binary; default {@link findNginx}. */
  nginxPath?: string;
  /** How long to wait until nginx answers. Default 10000 ms. */
  startTimeoutMs?: number;
  /**
   * Worker user when nginx starts as root (ignored otherwise). Default: nginx's own, `nobody`
   * (with its group), whenever that user can reach the upstream, else `root` (see
   * {@link chooseWorkerUser}). `nobody` with a socket it cannot reach reproduces the
   * `(13: Permission denied)` socket-permission cause.
   */
  user?: string;
}

/** Path nginx itself answers (204) once a worker runs; never proxied, never access-logged. */
export const NGINX_READY_PATH = '/__badgateway/ready';

const quote = (s: string): string => `"${s.replace(/(["\\$])/g, '\\$1')}"`;

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The workers' user for nginx started as root: nginx's default `nobody` (with its primary group:
 * `nogroup` on Debian, where no group is called `nobody`), as a real deployment runs it, when that
 * user can reach the upstream: a TCP address always; a unix socket when the kernel would let it
 * connect (search on every directory, write on the socket) — checked as the kernel does, or, for a
 * socket not there yet, its directories. Otherwise `root`, so the proxy fails only for the reasons
 * the upstream gives (a socket in a private 0700 temp dir would turn every failure into
 * `(13: Permission denied)`); `reason` says which and why.
 */
export function chooseWorkerUser(upstream: Upstream): { user: string; reason: string } {
  const db = readAccountDb();
  const nobody = resolveUserSpec('nobody', db, "nginx's default");
  if (!nobody) return { user: 'root', reason: 'this machine has no user nobody' };
  const user = `nobody ${nobody.group ?? nobody.gid}`;
  if (upstream.kind === 'tcp') return { user, reason: "nginx's default" };
  try {
    const access = checkSocketAccess(upstream.path, nobody, db);
    if (access.allowed) return { user, reason: "nginx's default: nobody can connect to the socket" };
    return { user: 'root', reason: `nobody cannot connect to ${upstream.path}: ${access.denied?.why ?? 'denied'}` };
  } catch {
    // No socket file (yet, or a missing one the proxy is to report): the way to it decides.
    try {
      const denied = checkSearchAccess(dirname(upstream.path), nobody, db);
      return denied
        ? { user: 'root', reason: `nobody cannot reach ${upstream.path}: ${denied.why}` }
        : { user, reason: "nginx's default: nobody can reach the socket's directory" };
    } catch {
      return { user: 'root', reason: `the directory of ${upstream.path} cannot be read` };
    }
  }
}

/**
 * The nginx.conf for `options`. Everything nginx writes stays in the prefix; `daemon off` so the
 * master is our child. Started as root, the workers run as `user` ({@link chooseWorkerUser}).
 */
export function renderNginxConfig(
  options: ResolvedProxyOptions,
  listenPort: number,
  paths: NginxPaths,
  user = 'root',
): string {
  const { upstream } = options;
  const server =
    upstream.kind === 'unix'
      ? `unix:${upstream.path}`
      : `${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
  const keepalive = options.keepalive > 0;
  const lines = [
    '# generated by badgateway: do not edit, it is rewritten on every start',
    ...(isRoot() ? [`user ${user};`] : []),
    'worker_processes 1;',
    'daemon off;',
    'master_process on;',
    `pid ${quote(paths.pid)};`,
    `error_log ${quote(paths.errorLog)} ${options.errorLogLevel};`,
    '',
    'events {',
    `    worker_connections ${options.workerConnections};`,
    '}',
    '',
    'http {',
    `    client_body_temp_path ${quote(`${paths.temp}/client_body`)};`,
    `    proxy_temp_path ${quote(`${paths.temp}/proxy`)};`,
    `    fastcgi_temp_path ${quote(`${paths.temp}/fastcgi`)};`,
    `    uwsgi_temp_path ${quote(`${paths.temp}/uwsgi`)};`,
    `    scgi_temp_path ${quote(`${paths.temp}/scgi`)};`,
    `    log_format badgateway '${ACCESS_LOG_FORMAT}';`,
    `    access_log ${quote(paths.accessLog)} badgateway;`,
    '    keepalive_timeout 75s;',
    `    client_header_timeout ${options.clientHeaderTimeoutMs}ms;`,
    `    client_body_timeout ${options.clientBodyTimeoutMs}ms;`,
    `    send_timeout ${options.clientSendTimeoutMs}ms;`,
    // 0 = no limit, the default here as in the built-in proxy (nginx's own default 1m answers 413).
    `    client_max_body_size ${options.clientMaxBodyBytes};`,
    `    client_body_buffer_size ${options.clientBodyBufferBytes};`,
    '',
    '    upstream badgateway_upstream {',
    `        server ${server};`,
    ...(keepalive ? [`        keepalive ${options.keepalive};`] : []),
    '    }',
    '',
    '    server {',
    `        listen 127.0.0.1:${listenPort};`,
    '        server_name localhost;',
    '',
    `        location = ${NGINX_READY_PATH} {`,
    '            access_log off;',
    '            return 204;',
    '        }',
    '',
    '        location / {',
    '            proxy_pass http://badgateway_upstream;',
    // Keep-alive to the upstream needs HTTP/1.1 and no `Connection: close` from nginx.
    ...(keepalive ? ['            proxy_http_version 1.1;', '            proxy_set_header Connection "";'] : []),
    '            proxy_set_header Host $http_host;',
    '            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    `            proxy_connect_timeout ${options.connectTimeoutMs}ms;`,
    `            proxy_read_timeout ${options.readTimeoutMs}ms;`,
    `            proxy_send_timeout ${options.sendTimeoutMs}ms;`,
    `            proxy_next_upstream ${options.nextUpstream ? 'error timeout' : 'off'};`,
    '        }',
    '    }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/**
 * Runs a real nginx in front of `options.upstream`: a fresh temp prefix, a generated config
 * checked with `nginx -t` (its message is surfaced in `BG_NGINX_FAILED`), `daemon off` as our
 * child, waited for until a worker answers. `listenPort: 0` picks a free port (nginx cannot bind
 * port 0) and retries when another process takes it first. The logs stay readable until
 * `close()`, which stops nginx (SIGQUIT, SIGTERM, SIGKILL) and removes the prefix; so does the
 * process exiting. Missing nginx → `BG_NO_NGINX` with the install hint.
 */
export async function runNginx(options: NginxOptions): Promise<NginxHandle> {
  const resolved = resolveProxyOptions(options);
  const nginx = options.nginxPath ?? findNginx();
  if (!nginx)
    throw new BadgatewayError(ERROR_CODES.NO_NGINX, 'nginx is not installed (not found in PATH or /usr/sbin)', {
      hint: NGINX_INSTALL_HINT,
    });
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  if (options.user !== undefined && !/^[a-z_][a-z0-9_-]*(?: [a-z_][a-z0-9_-]*)?$/i.test(options.user)) {
    throw badOption('user', options.user, 'a user name, optionally followed by a group name');
  }
  const worker =
    options.user !== undefined ? { user: options.user, reason: 'as asked' } : chooseWorkerUser(resolved.upstream);
  const user = worker.user;
  if (isRoot()) debug('nginx: workers run as %s (%s)', user, worker.reason);

  const dir = await createTempDir('nginx');
  // Workers that are not root must pass through the prefix to the temp paths nginx gives them.
  if (isRoot() && user !== 'root') await chmod(dir.path, 0o711);
  const paths: NginxPaths = {
    prefix: dir.path,
    conf: dir.file('nginx.conf'),
    pid: dir.file('nginx.pid'),
    errorLog: dir.file('error.log'),
    accessLog: dir.file('access.log'),
    temp: dir.file('tmp'),
  };
  try {
    await mkdir(paths.temp);
    await writeFile(paths.errorLog, '');
    await writeFile(paths.accessLog, '');
    const attempts = resolved.listenPort === 0 ? 5 : 1;
    for (let attempt = 1; ; attempt++) {
      const port = resolved.listenPort || (await findFreePort());
      if (resolved.listenPort !== 0) await checkListenPort(port);
      const config = renderNginxConfig(resolved, port, paths, user);
      await writeFile(paths.conf, config);
      checkConfig(nginx, paths);
      try {
        return await startNginx(
          nginx,
          resolved,
          port,
          paths,
          config,
          startTimeoutMs,
          dir.close,
          dir.closeSync,
          isRoot() ? user : null,
        );
      } catch (err) {
        if (attempt < attempts && err instanceof AddressInUse) {
          debug('nginx: port %d taken meanwhile, retrying', port);
          continue;
        }
        throw err instanceof AddressInUse ? err.toBadgatewayError() : err;
      }
    }
  } catch (err) {
    await dir.close();
    throw err;
  }
}

class AddressInUse extends Error {
  constructor(
    readonly port: number,
    readonly detail: string,
  ) {
    super(detail);
  }
  toBadgatewayError(): BadgatewayError {
    return new BadgatewayError(
      ERROR_CODES.ADDRESS_IN_USE,
      `nginx could not listen on 127.0.0.1:${this.port}: ${this.detail}`,
    );
  }
}

/** `nginx -t`: fails fast with nginx's own words instead of a child that dies during start. */
function checkConfig(nginx: string, paths: NginxPaths): void {
  const result = spawnSync(nginx, ['-t', '-q', '-p', `${paths.prefix}/`, '-c', paths.conf, '-e', paths.errorLog], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.error) {
    throw new BadgatewayError(ERROR_CODES.NGINX_FAILED, `cannot run ${nginx}: ${result.error.message}`, {
      cause: result.error,
    });
  }
  if (result.status !== 0) {
    const message = nginxMessage(result.stderr) || `exit status ${result.status ?? result.signal}`;
    debug('nginx -t failed for:\n%s', readFileSync(paths.conf, 'utf8'));
    throw new BadgatewayError(ERROR_CODES.NGINX_FAILED, `nginx rejected its configuration: ${message}`, {
      hint: 'check the upstream address and the options; NODE_DEBUG=badgateway prints the generated config',
    });
  }
}

/** The meaningful lines of nginx's stderr, prefixes stripped: `[emerg] bind() ... failed (98: ...)`. */
function nginxMessage(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^nginx: /, '').trim())
    .filter((l) => l && !/configuration file .* test (is successful|failed)|syntax is ok/.test(l))
    .join('; ');
}

/** A running nginx master as {@link startNginx} watches it. */
interface NginxChild {
  child: ChildProcess;
  /** What nginx wrote to stderr so far. */
  stderr(): string;
  exited: Promise<void>;
  /** Resolves if the spawn itself failed (then there may be no 'exit'). */
  spawnError: Promise<Error>;
}

/**
 * Spawns nginx in its own process group: the master and its workers can then be killed together (a
 * SIGKILLed master leaves its workers running), and a terminal's Ctrl-C reaches us, who stop it in
 * order. A parent-death signal ends it if we die first.
 */
function spawnNginx(nginx: string, paths: NginxPaths): NginxChild {
  const [command, args] = withParentDeathSignal(nginx, [
    '-p',
    `${paths.prefix}/`,
    '-c',
    paths.conf,
    '-e',
    paths.errorLog,
  ]);
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    // nginx retries a taken port 5 times, 500 ms apart; the first refusal is enough for us.
    if (/\(98: Address already in use\)/.test(stderr) && child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  return { child, stderr: () => stderr, exited, spawnError };
}

/**
 * Why nginx did not start, as one error: a taken port ({@link AddressInUse}, which the caller may
 * retry on another), the spawn's own `BG_NGINX_FAILED`, or nginx's own words from its stderr.
 */
function startFailure(err: unknown, stderr: string, port: number): Error {
  const message = nginxMessage(stderr);
  if (/\(98: Address already in use\)/.test(message)) return new AddressInUse(port, message);
  if (err instanceof BadgatewayError && err.code === ERROR_CODES.NGINX_FAILED) return err;
  return new BadgatewayError(
    ERROR_CODES.NGINX_FAILED,
    `nginx did not start: ${message || (err instanceof Error ? err.message : String(err))}`,
    { cause: err },
  );
}

/** Starts nginx on `port` and waits until it answers; on failure it is stopped and its dir removed before it throws. */
async function startNginx(
  nginx: string,
  options: ResolvedProxyOptions,
  port: number,
  paths: NginxPaths,
  config: string,
  startTimeoutMs: number,
  removeDir: () => Promise<void>,
  removeDirSync: () => void,
  workerUser: string | null,
): Promise<NginxHandle> {
  const { child, stderr, exited, spawnError } = spawnNginx(nginx, paths);
  const pid = child.pid ?? 0;
  const unregister = onProcessExit(() => {
    // No time to wait here: kill the whole group at once.
    killGroup(pid);
    removeDirSync();
  });

  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await stopChild(child, exited, NGINX_STOP_STEPS);
      // Workers orphaned by a master that died hard (or was SIGKILLed above) go with their group.
      killGroup(pid);
      unregister();
      await removeDir();
    })());

  try {
    await Promise.race([
      waitUntilAnswering({
        port,
        path: NGINX_READY_PATH,
        timeoutMs: startTimeoutMs,
        died: () => child.exitCode !== null || child.signalCode !== null,
        name: 'nginx',
      }),
      spawnError.then((err) => {
        throw new BadgatewayError(ERROR_CODES.NGINX_FAILED, `cannot start ${nginx}: ${err.message}`, { cause: err });
      }),
    ]);
  } catch (err) {
    await close();
    throw startFailure(err, stderr(), port);
  }
  debug('nginx %d listening on %s -> %s', pid, url, options.upstream.url);

  const handle: NginxHandle = {
    kind: 'nginx',
    url,
    port,
    pid,
    upstream: options.upstream.url,
    errorLogPath: paths.errorLog,
    accessLogPath: paths.accessLog,
    configPath: paths.conf,
    config,
    workerUser,
    readErrorLog: () => readFile(paths.errorLog, 'utf8'),
    readAccessLog: () => readFile(paths.accessLog, 'utf8'),
    close,
    [Symbol.asyncDispose]: close,
  };
  return handle;
}

/** Graceful stop (SIGQUIT lets workers finish), then SIGTERM, then SIGKILL; bounded to ~3 s. */
const NGINX_STOP_STEPS = [
  ['SIGQUIT', 1000],
  ['SIGTERM', 1000],
  ['SIGKILL', 1000],
] as const;
