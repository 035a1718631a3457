import { Option, type Command } from 'commander';
import * as promClient from 'prom-client';
import {
  applyFdLimit,
  createDemoApp,
  type DemoApp,
  DEFAULT_CLI_PORT,
  DEMO_APP_DEFAULTS,
  EXIT_WITH_STDIN_ENV,
  renderListening,
  renderSettings,
  type MetricsSource,
} from '../../app/index.js';
import { readFdLimits } from '../../proc/index.js';
import { createGuard, GUARD_DEFAULTS, registerGuardMetrics, type Guard } from '../../guard/index.js';
import type { CliContext } from '../context.js';
import {
  addDeprecatedAliases,
  DURATION_PLACEHOLDER,
  durationOption,
  EXIT_STATUS,
  formatDuration,
  jsonOption,
  jsonSchema,
  parseDurationArg,
  parseIntArg,
  parseNumberArg,
} from '../options.js';

/** The old `--keep-alive-timeout` and `--work-ms` read a bare number as milliseconds; they keep that meaning. */
function parseLegacyMsArg(value: string): number {
  return parseDurationArg({ allowZero: true })(/^\s*\d+(?:\.\d+)?\s*$/.test(value) ? `${value.trim()}ms` : value);
}

interface AppCommandOptions {
  port: number;
  host: string;
  unixSocket?: string;
  backlog: number;
  keepaliveTimeout: number;
  sync?: boolean;
  work?: number;
  fdLimit?: number;
  guard?: boolean;
  guardMaxFdRatio?: number;
  json?: boolean;
}

/** With --guard, these stay reachable under pressure (to watch, to scrape and to recover). */
const GUARD_EXEMPT = new Set(['/fds', '/cleanup', '/metrics']);

const EXAMPLES = `
Endpoints:
  /            200 "ok" after --work
  /fds         JSON {open, limit, ratio, byKind, ...} of this process (from /proc)
  /leak?n=N    open N fds (/dev/null) and keep them; stops at EMFILE and says so
  /cleanup     close the leaked fds
  /metrics     with --guard: the guard's Prometheus metrics (badgateway_process_open_fds, ...)
  /sleep?ms=N  answer after N ms (blocking the event loop with --sync)

${EXIT_STATUS.app}

Examples:
  $ badgateway app --port 8080
  $ curl localhost:8080/fds
  $ badgateway app --port 0 --json                    the ready line as JSON: {"schema":"badgateway.app/v1","url":...}

  # out of fds: at EMFILE, libuv accepts and at once closes new connections
  $ badgateway app --port 8080 --fd-limit 64
  $ curl 'localhost:8080/leak?n=1000'

  # a gunicorn-like sync worker on a unix socket with a tiny accept queue
  $ badgateway app --unix-socket /tmp/app.sock --sync --backlog 4 --work 50ms

  # never time out idle keep-alive sockets (the gevent pywsgi leak)
  $ badgateway app --port 8080 --keepalive-timeout 0

  # the same leaks behind badgateway/guard: 503 + Retry-After instead of resets
  $ badgateway app --port 8080 --fd-limit 128 --guard`;

/** `badgateway app`: the demo upstream with failure knobs. */
export function registerApp(program: Command, ctx: CliContext): void {
  const command = program
    .command('app')
    .description('run the demo upstream: a Node HTTP server with knobs that make a proxy return 502/504')
    .addOption(
      new Option('--port <n>', 'port to listen on, TCP (0 = any free port)')
        .argParser(parseIntArg(0, 65535))
        .default(DEFAULT_CLI_PORT)
        .conflicts('unixSocket'),
    )
    .addOption(
      new Option('--host <address>', 'address to bind, TCP').default(DEMO_APP_DEFAULTS.host).conflicts('unixSocket'),
    )
    .addOption(
      new Option('--unix-socket <path>', 'listen on a unix socket instead of TCP (mode 0666; a stale file is removed)'),
    )
    .addOption(
      new Option('--backlog <n>', 'listen backlog (the kernel caps it at net.core.somaxconn)')
        .argParser(parseIntArg(1, 65535))
        .default(DEMO_APP_DEFAULTS.backlog),
    )
    .addOption(
      durationOption(
        `--keepalive-timeout ${DURATION_PLACEHOLDER}`,
        'close idle keep-alive connections after this long (Node adds 1 s); 0 = never',
        DEMO_APP_DEFAULTS.keepAliveTimeoutMs,
        { allowZero: true },
      ),
    )
    .addOption(new Option('--sync', 'block the event loop for the whole of each request, like a gunicorn sync worker'))
    .addOption(
      durationOption(
        `--work ${DURATION_PLACEHOLDER}`,
        `time / takes (default: ${formatDuration(DEMO_APP_DEFAULTS.workMs)}, or ${formatDuration(DEMO_APP_DEFAULTS.syncWorkMs)} with --sync)`,
        undefined,
        { allowZero: true },
      ),
    )
    .addOption(
      new Option('--fd-limit <n>', 'lower RLIMIT_NOFILE of the app to N (soft = hard) with prlimit').argParser(
        parseIntArg(1, 1 << 30),
      ),
    )
    .addOption(
      new Option(
        '--guard',
        `protect the app with badgateway/guard: 503 + Retry-After from fd ratio ${GUARD_DEFAULTS.maxFdRatio}, idle keep-alive sockets reaped from ${GUARD_DEFAULTS.reapFdRatio} (/fds, /cleanup and /metrics exempt; /metrics serves its Prometheus metrics)`,
      ),
    )
    .addOption(
      new Option(
        '--guard-max-fd-ratio <r>',
        `with --guard: shed from this fd ratio (default ${GUARD_DEFAULTS.maxFdRatio})`,
      ).argParser(parseNumberArg(0, 1, { exclusiveMin: true })),
    )
    .addOption(
      jsonOption(
        'print the ready line as one JSON object (schema badgateway.app/v1: url, pid, port or socket, settings) instead of text',
      ),
    )
    .addHelpText('after', EXAMPLES);
  addDeprecatedAliases(command, ctx, [
    {
      flags: '--keep-alive-timeout <ms>',
      replacement: '--keepalive-timeout',
      attribute: 'keepaliveTimeout',
      parse: parseLegacyMsArg,
    },
    { flags: '--work-ms <ms>', replacement: '--work', attribute: 'work', parse: parseLegacyMsArg },
  ]);
  command.action((opts: AppCommandOptions) => runAppCommand(opts, ctx));
}

/**
 * The action of `badgateway app`: starts the demo app (behind badgateway/guard with --guard), prints
 * its ready line and serves until stopped.
 */
async function runAppCommand(opts: AppCommandOptions, ctx: CliContext): Promise<void> {
  // Lower the limit before anything listens: a failure then leaves nothing behind.
  if (opts.fdLimit !== undefined) await applyFdLimit(opts.fdLimit);
  let guardLine = '';
  let guard: Guard | undefined;
  let metrics: MetricsSource | undefined;
  if (opts.guard || opts.guardMaxFdRatio !== undefined) {
    guard = createGuard({
      ...(opts.guardMaxFdRatio !== undefined ? { maxFdRatio: opts.guardMaxFdRatio } : {}),
      skip: (req) => GUARD_EXEMPT.has((req.url ?? '/').split('?')[0]!),
    });
    ctx.own({ close: () => guard?.close() });
    // The guard's numbers for Prometheus, under the names the mixin reads.
    const registry = new promClient.Registry();
    registerGuardMetrics(guard, promClient, { registry });
    metrics = registry;
  }
  const app = ctx.own(
    await createDemoApp({
      ...(opts.unixSocket !== undefined ? { unixSocket: opts.unixSocket } : { port: opts.port, host: opts.host }),
      backlog: opts.backlog,
      keepAliveTimeoutMs: opts.keepaliveTimeout,
      sync: opts.sync === true,
      ...(opts.work !== undefined ? { workMs: opts.work } : {}),
      ...(metrics ? { metrics } : {}),
    }),
  );
  if (guard) {
    guard.protect(app.server);
    const { maxFdRatio, reapFdRatio } = guard.options;
    guardLine = `guard: 503 + Retry-After from fd ratio ${maxFdRatio}, idle keep-alive sockets reaped from ${reapFdRatio}; Prometheus metrics on /metrics\n`;
  }
  const limits = await readFdLimits(process.pid);
  if (opts.json) ctx.stdout.write(`${JSON.stringify(renderReadyJson(app, limits.soft, guard))}\n`);
  else ctx.stdout.write(`${renderListening(app)}\n${renderSettings(app, limits.soft)}\n${guardLine}`);
  // Serve until SIGINT/SIGTERM (or, under spawnDemoApp, until the parent's pipe closes); the
  // CLI then closes the app (connections, socket file) and exits 0.
  if (ctx.signal.aborted) return;
  await new Promise<void>((resolve) => {
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    if (process.env[EXIT_WITH_STDIN_ENV] === '1') {
      process.stdin.once('close', () => resolve());
      process.stdin.resume();
    }
  });
}

/** `app --json`'s ready line: where it listens and how it is set, for scripts. */
function renderReadyJson(app: DemoApp, fdLimit: number | null, guard: Guard | undefined): Record<string, unknown> {
  const { backlog, keepAliveTimeoutMs, sync, workMs } = app.options;
  return {
    schema: jsonSchema('app'),
    event: 'ready',
    url: app.url,
    ...(app.port !== undefined ? { host: app.options.host, port: app.port } : { unixSocket: app.unixSocket }),
    pid: app.pid,
    backlog,
    keepAliveTimeoutMs,
    sync,
    workMs,
    fdLimit,
    guard: guard
      ? { maxFdRatio: guard.options.maxFdRatio, reapFdRatio: guard.options.reapFdRatio, metricsPath: '/metrics' }
      : null,
  };
}
