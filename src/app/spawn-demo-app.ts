import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { terminateChild } from '../util/index.js';
import type { DemoAppOptions } from './options.js';
import { LISTENING_LINE } from './render.js';

/** Options of {@link spawnDemoApp}: the app's own plus what only a separate process can do. */
export interface SpawnDemoAppOptions extends DemoAppOptions {
  /** RLIMIT_NOFILE of the app process (soft = hard), via `prlimit`. Default: inherited. */
  fdLimit?: number;
  /** Protect the app with badgateway/guard (`--guard`); an object sets its fd ratio. Default off. */
  guard?: boolean | { maxFdRatio?: number };
  /** How long to wait for the ready line, in ms. Default 10000. */
  readyTimeoutMs?: number;
  /** How long `close()` waits after SIGTERM before SIGKILL, in ms. Default 5000. */
  killTimeoutMs?: number;
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
}

/** A demo upstream running as a child process (`badgateway app`). */
export interface SpawnedDemoApp extends AsyncDisposable {
  /** Pid of the process serving the requests (the one to inspect in /proc). */
  readonly pid: number;
  /** `http://127.0.0.1:PORT` or `unix:/abs/path.sock`, from the ready line. */
  readonly url: string;
  readonly port?: number;
  readonly unixSocket?: string;
  readonly child: ChildProcess;
  /** What the child wrote to stderr so far (last 64 KiB). */
  readonly stderr: string;
  /** SIGTERM, then SIGKILL after `killTimeoutMs`; resolves once the child has exited (at most 10 s after the SIGKILL). */
  close(): Promise<void>;
}

/** The compiled CLI, next to this module in dist/. */
export const CLI_BIN = fileURLToPath(new URL('../cli/bin.js', import.meta.url));

/** `badgateway app` arguments for these options (port 0 when none is given: the library default). */
export function renderAppArgs(options: SpawnDemoAppOptions): string[] {
  const args: string[] = [];
  if (options.unixSocket !== undefined) args.push('--unix-socket', options.unixSocket);
  else {
    args.push('--port', String(options.port ?? 0));
    if (options.host !== undefined) args.push('--host', options.host);
  }
  if (options.backlog !== undefined) args.push('--backlog', String(options.backlog));
  if (options.keepAliveTimeoutMs !== undefined) args.push('--keepalive-timeout', `${options.keepAliveTimeoutMs}ms`);
  if (options.sync) args.push('--sync');
  if (options.workMs !== undefined) args.push('--work', `${options.workMs}ms`);
  if (options.fdLimit !== undefined) args.push('--fd-limit', String(options.fdLimit));
  if (options.guard) args.push('--guard');
  if (typeof options.guard === 'object' && options.guard.maxFdRatio !== undefined) {
    args.push('--guard-max-fd-ratio', String(options.guard.maxFdRatio));
  }
  return args;
}

const STDERR_KEEP = 64 * 1024;

/**
 * Environment variable that makes `badgateway app` stop (as on SIGTERM) when its stdin closes.
 * {@link spawnDemoApp} sets it and keeps the pipe open, so the app dies with its parent.
 */
export const EXIT_WITH_STDIN_ENV = 'BADGATEWAY_EXIT_WITH_STDIN';

/**
 * Runs `badgateway app` as a child process and resolves once it prints its ready line. Rejects
 * with the child's own one-line error (`BG_CHILD_FAILED`) if it exits first, or `BG_TIMEOUT`
 * (after killing it) if it never gets ready.
 */
export function spawnDemoApp(options: SpawnDemoAppOptions = {}): Promise<SpawnedDemoApp> {
  const { readyTimeoutMs = 10_000, killTimeoutMs = 5000 } = options;
  const child = spawn(process.execPath, [CLI_BIN, 'app', ...renderAppArgs(options)], {
    // The child exits when this pipe closes: a parent that dies without close() leaves no orphan.
    env: { ...process.env, ...options.env, [EXIT_WITH_STDIN_ENV]: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = (): Promise<void> => terminateChild(child, exited, 'SIGTERM', killTimeoutMs);

  return new Promise((resolve, reject) => {
    let ready = false;
    const lines = createInterface({ input: child.stdout });
    const fail = (err: BadgatewayError): void => {
      clearTimeout(timer);
      void close().then(() => reject(err));
    };
    const timer = setTimeout(
      () =>
        fail(
          new BadgatewayError(ERROR_CODES.TIMEOUT, `badgateway app printed no ready line within ${readyTimeoutMs} ms`),
        ),
      readyTimeoutMs,
    );
    child.once('error', (err) =>
      fail(
        new BadgatewayError(ERROR_CODES.CHILD_FAILED, `cannot start badgateway app: ${err.message}`, { cause: err }),
      ),
    );
    // The child keeps writing after the ready line; keep reading so its pipe never fills.
    lines.on('line', (line) => {
      if (ready) return;
      const match = LISTENING_LINE.exec(line);
      if (!match?.[1]) return;
      ready = true;
      clearTimeout(timer);
      const url = match[1];
      const port = url.startsWith('http:') ? Number(new URL(url).port) : undefined;
      const unixSocket = url.startsWith('unix:') ? url.slice('unix:'.length) : undefined;
      const app: SpawnedDemoApp = {
        pid: child.pid!,
        url,
        ...(port !== undefined ? { port } : {}),
        ...(unixSocket !== undefined ? { unixSocket } : {}),
        child,
        get stderr() {
          return stderr;
        },
        close,
        [Symbol.asyncDispose]: close,
      };
      resolve(app);
    });
    child.once('exit', (code, signal) => {
      if (ready) return;
      // Let the last stderr chunk arrive before quoting it.
      setImmediate(() => {
        const first = stderr.split('\n').find((l) => l.trim() !== '') ?? '';
        fail(
          new BadgatewayError(
            ERROR_CODES.CHILD_FAILED,
            `badgateway app exited (${signal ?? code}) before it was ready${first ? `: ${first.replace(/^badgateway( app)?: /, '')}` : ''}`,
          ),
        );
      });
    });
  });
}
