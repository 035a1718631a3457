import { InvalidArgumentError, Option, type Command } from 'commander';
import * as promClient from 'prom-client';
import { applyFdLimit, createDemoApp, DEFAULT_CLI_PORT, DEFAULTS, EXIT_WITH_STDIN_ENV, renderListening, renderSettings, type MetricsSource } from '../../app/index.js';
import { readFdLimits } from '../../proc/index.js';
import { createGuard, GUARD_DEFAULTS, registerGuardMetrics, type Guard } from '../../guard/index.js';
import type { CliContext } from '../context.js';
import { parseDurationArg, parseIntArg, parseNumberArg } from '../options.js';

const MAX_TIMER_MS = 2_147_483_647;

/** Milliseconds, a bare number or a duration (`200`, `200ms`, `5s`); 0 allowed, capped at Node's timer maximum. */
function parseMsArg(value: string): number {
  const ms = parseDurationArg({ allowZero: true, defaultUnit: 'ms' })(value);
  if (ms > MAX_TIMER_MS) throw new InvalidArgumentError(`expected at most ${MAX_TIMER_MS} ms.`);
  return ms;
}

interface AppCommandOptions {
  port: number;
  host: string;
  unixSocket?: string;
  backlog: number;
  keepAliveTimeout: number;
  sync?: boolean;
  workMs?: number;
  fdLimit?: number;
  guard?: boolean;
  guardMaxFdRatio?: number;
}

/** With --guard, these stay reachable under pressure (to watch, to scrape and to recover). */
const GUARD_EXEMPT = new Set(['/fds', '/cleanup', '/metrics']);

const EXAMPLES = `
Endpoints:
  /            200 "ok" after --work-ms
  /fds         JSON {open, limit, ratio, byKind, ...} of this process (from /proc)
  /leak?n=N    open N fds (/dev/null) and keep them; stops at EMFILE and says so
  /cleanup     close the leaked fds
  /metrics     with --guard: the guard's Prometheus metrics (badgateway_process_open_fds, ...)
  /sleep?ms=N  answer after N ms (blocking the event loop with --sync)

Examples:
  $ badgateway app --port 8080
  $ curl localhost:8080/fds

  # out of fds: at EMFILE, libuv accepts and at once closes new connections
  $ badgateway app --port 8080 --fd-limit 64
  $ curl 'localhost:8080/leak?n=1000'

  # a gunicorn-like sync worker on a unix socket with a tiny accept queue
  $ badgateway app --unix-socket /tmp/app.sock --sync --backlog 4 --work-ms 50

  # never time out idle keep-alive sockets (the gevent pywsgi leak)
  $ badgateway app --port 8080 --keep-alive-timeout 0

  # the same leaks behind badgateway/guard: 503 + Retry-After instead of resets
  $ badgateway app --port 8080 --fd-limit 128 --guard
`;

/** `badgateway app`: the demo upstream with failure knobs. */
export function registerApp(program: Command, ctx: CliContext): void {
  program
    .command('app')
    .description('Run the demo upstream: a Node HTTP server with knobs that make a proxy return 502/504.')
    .addOption(new Option('--port <n>', 'TCP port (0 = any free port)').argParser(parseIntArg(0, 65535)).default(DEFAULT_CLI_PORT).conflicts('unixSocket'))
    .addOption(new Option('--host <address>', 'TCP address to bind').default(DEFAULTS.host).conflicts('unixSocket'))
    .addOption(new Option('--unix-socket <path>', 'listen on a unix socket instead of TCP (mode 0666; a stale file is removed)'))
    .addOption(new Option('--backlog <n>', 'listen backlog (the kernel caps it at net.core.somaxconn)').argParser(parseIntArg(1, 65535)).default(DEFAULTS.backlog))
    .addOption(
      new Option('--keep-alive-timeout <ms>', 'close idle keep-alive sockets after this long; 0 = never')
        .argParser(parseMsArg)
        .default(DEFAULTS.keepAliveTimeoutMs),
    )
    .addOption(new Option('--sync', 'block the event loop for the whole of each request, like a gunicorn sync worker'))
    .addOption(
      new Option('--work-ms <ms>', `time / takes (default: ${DEFAULTS.workMs}, or ${DEFAULTS.syncWorkMs} with --sync)`).argParser(parseMsArg),
    )
    .addOption(new Option('--fd-limit <n>', 'lower RLIMIT_NOFILE of the app to N (soft = hard) with prlimit').argParser(parseIntArg(1, 1 << 30)))
    .addOption(
      new Option(
        '--guard',
        `protect the app with badgateway/guard: 503 + Retry-After from fd ratio ${GUARD_DEFAULTS.maxFdRatio}, idle keep-alive sockets reaped from ${GUARD_DEFAULTS.reapFdRatio} (/fds, /cleanup and /metrics exempt; /metrics serves its Prometheus metrics)`,
      ),
    )
    .addOption(
      new Option('--guard-max-fd-ratio <r>', `with --guard: shed from this fd ratio (default ${GUARD_DEFAULTS.maxFdRatio})`).argParser(
        parseNumberArg(0, 1, { exclusiveMin: true }),
      ),
    )
    .addHelpText('after', EXAMPLES)
    .action(async (opts: AppCommandOptions) => {
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
          keepAliveTimeoutMs: opts.keepAliveTimeout,
          sync: opts.sync === true,
          ...(opts.workMs !== undefined ? { workMs: opts.workMs } : {}),
          ...(metrics ? { metrics } : {}),
        }),
      );
      if (guard) {
        guard.protect(app.server);
        const { maxFdRatio, reapFdRatio } = guard.options;
        guardLine = `guard: 503 + Retry-After from fd ratio ${maxFdRatio}, idle keep-alive sockets reaped from ${reapFdRatio}; Prometheus metrics on /metrics\n`;
      }
      const limits = await readFdLimits(process.pid);
      ctx.stdout.write(`${renderListening(app)}\n${renderSettings(app, limits.soft)}\n${guardLine}`);
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
    });
}
