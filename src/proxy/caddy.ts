import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import { createTempDir } from '../util/index.js';
import { findProgram } from './process.js';
import { startExternalProxy, type ExternalProxyOptions } from './external.js';
import { NGINX_READY_PATH } from './nginx.js';
import { resolveProxyOptions, type ProxyHandle, type ProxyOptions, type ResolvedProxyOptions } from './options.js';

/** How to install Caddy when it is missing. */
export const CADDY_INSTALL_HINT = 'install Caddy (Debian/Ubuntu: apt-get install caddy)';

/** Options of {@link runCaddy}: the common ones plus where Caddy lives. */
export interface CaddyOptions extends ProxyOptions, ExternalProxyOptions {
  /** caddy binary; default {@link findCaddy}. */
  caddyPath?: string;
}

/** The Caddy handle: the common {@link ProxyHandle} plus the generated JSON config. */
export interface CaddyHandle extends ProxyHandle {
  readonly kind: 'caddy';
  readonly configPath: string;
  readonly config: string;
}

/** `$BADGATEWAY_CADDY` when set (empty: pretend it is absent), else PATH. */
export function findCaddy(): string | undefined {
  return findProgram('BADGATEWAY_CADDY', 'caddy');
}

/** Paths of one Caddy instance, all inside its temp dir. */
export interface CaddyPaths {
  /** Caddy's own log (JSON): the reverse proxy's errors (`http.log.error`) and everything but access lines. */
  errorLog: string;
  /** The access log (JSON, `http.log.access`). */
  accessLog: string;
  /** Certificate storage (never used: no TLS), kept out of $HOME. */
  data: string;
}

const ms = (n: number): string => `${n}ms`;

/**
 * Caddy's JSON config for `options`. Each common option maps to one `reverse_proxy` transport
 * setting: `connectTimeoutMs` → `dial_timeout`; `readTimeoutMs` → `response_header_timeout` (the
 * wait for the response head: what a slow upstream exceeds); `sendTimeoutMs` → `write_timeout`;
 * `keepalive N` → `keep_alive.max_idle_conns_per_host N` (0 → keep-alive off, a new connection per
 * request); `idleTimeoutMs` → `keep_alive.idle_timeout`. Retries: Caddy's default (none:
 * `try_duration` 0); Go's transport itself retries an idempotent request whose reused connection
 * failed before any byte came back, as nginx does, so `nextUpstream` has nothing to switch.
 * The admin API is off and nothing is written outside the temp dir.
 */
export function renderCaddyConfig(
  options: ResolvedProxyOptions,
  listenPort: number,
  paths: CaddyPaths,
  idleTimeoutMs: number,
): string {
  const { upstream } = options;
  const dial =
    upstream.kind === 'unix'
      ? `unix/${upstream.path}`
      : `${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
  const keepAlive =
    options.keepalive > 0
      ? { enabled: true, max_idle_conns_per_host: options.keepalive, idle_timeout: ms(idleTimeoutMs) }
      : { enabled: false };
  const file = (filename: string) => ({ output: 'file', filename, roll: false });
  const config = {
    admin: { disabled: true, config: { persist: false } },
    storage: { module: 'file_system', root: paths.data },
    logging: {
      logs: {
        default: {
          writer: file(paths.errorLog),
          encoder: { format: 'json' },
          level: 'INFO',
          exclude: ['http.log.access'],
        },
        access: {
          writer: file(paths.accessLog),
          encoder: { format: 'json' },
          level: 'INFO',
          include: ['http.log.access'],
        },
      },
    },
    apps: {
      http: {
        servers: {
          badgateway: {
            listen: [`127.0.0.1:${listenPort}`],
            automatic_https: { disable: true },
            // nginx's keepalive_timeout 75s towards clients; client_header_timeout. (Go's read and
            // write timeouts bound a whole request or response, not the wait between two reads or
            // writes as nginx's client_body_timeout and send_timeout do: they stay unset.)
            idle_timeout: '75s',
            read_header_timeout: ms(options.clientHeaderTimeoutMs),
            logs: {},
            routes: [
              {
                match: [{ path: [NGINX_READY_PATH] }],
                handle: [
                  { handler: 'vars', skip_log: true },
                  { handler: 'static_response', status_code: 204 },
                ],
                terminal: true,
              },
              {
                handle: [
                  // client_max_body_size: a larger body gets 413.
                  ...(options.clientMaxBodyBytes > 0
                    ? [{ handler: 'request_body', max_size: options.clientMaxBodyBytes }]
                    : []),
                  {
                    handler: 'reverse_proxy',
                    upstreams: [{ dial }],
                    transport: {
                      protocol: 'http',
                      dial_timeout: ms(options.connectTimeoutMs),
                      response_header_timeout: ms(options.readTimeoutMs),
                      write_timeout: ms(options.sendTimeoutMs),
                      keep_alive: keepAlive,
                    },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Runs Debian's Caddy in front of `options.upstream`, like {@link runNginx} runs nginx: a fresh
 * temp dir with the generated JSON config and two JSON logs — `caddy.log`, Caddy's own (the
 * reverse proxy's `dial unix …: connect: resource temporarily unavailable`, `… connection refused`,
 * timeouts, each with the status the client got) and `access.log` — `caddy run` as our child under a
 * parent-death signal with HOME and XDG dirs inside the temp dir, waited for until it answers.
 * `close()` stops it (SIGTERM: graceful, then SIGKILL) and removes the dir.
 */
export async function runCaddy(options: CaddyOptions): Promise<CaddyHandle> {
  const resolved = resolveProxyOptions(options);
  const caddy = options.caddyPath ?? findCaddy();
  if (!caddy)
    throw new BadgatewayError(ERROR_CODES.MISSING_TOOL, 'caddy is not installed (not found in PATH)', {
      hint: CADDY_INSTALL_HINT,
    });
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 1)
    throw badOption('idleTimeoutMs', idleTimeoutMs, 'a positive integer');

  const dir = await createTempDir('caddy');
  const paths: CaddyPaths = {
    errorLog: dir.file('caddy.log'),
    accessLog: dir.file('access.log'),
    data: dir.file('data'),
  };
  const conf = dir.file('caddy.json');
  let config = '';
  try {
    await mkdir(paths.data);
    await writeFile(paths.errorLog, '');
    await writeFile(paths.accessLog, '');
  } catch (err) {
    await dir.close();
    throw err;
  }
  const home = dir.file('home');
  const started = await startExternalProxy({
    name: 'caddy',
    failedCode: ERROR_CODES.PROXY_FAILED,
    dir,
    options: resolved,
    startTimeoutMs: options.startTimeoutMs ?? 10_000,
    stdout: 'ignore',
    addressInUse: /bind: address already in use/,
    readyPath: NGINX_READY_PATH,
    stopSteps: [
      ['SIGTERM', 2000],
      ['SIGKILL', 1000],
    ],
    prepare: async (port) => {
      config = renderCaddyConfig(resolved, port, paths, idleTimeoutMs);
      await writeFile(conf, config);
      await mkdir(home, { recursive: true });
      // Caddy keeps state under $HOME / $XDG_*: inside the temp dir, nothing is left behind.
      const env = { ...process.env, HOME: home, XDG_DATA_HOME: `${home}/data`, XDG_CONFIG_HOME: `${home}/config` };
      return { command: caddy, args: ['run', '--config', conf], env };
    },
  });
  return {
    kind: 'caddy',
    url: `http://127.0.0.1:${started.port}`,
    port: started.port,
    pid: started.pid,
    upstream: resolved.upstream.url,
    errorLogPath: paths.errorLog,
    accessLogPath: paths.accessLog,
    configPath: conf,
    config,
    readErrorLog: () => readFile(paths.errorLog, 'utf8'),
    readAccessLog: () => readFile(paths.accessLog, 'utf8'),
    close: started.close,
    [Symbol.asyncDispose]: started.close,
  };
}
