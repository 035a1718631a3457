import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { BadgatewayError, ERROR_CODES, badOption, errnoCode } from '../../errors/index.js';
// The load area's index is light: undici and the histograms load only when a run starts, so
// every other command (and bad input) starts fast.
import {
  LOAD_DEFAULTS,
  LOAD_ENGINES,
  createTarget,
  parseRateShare,
  parseStartAt,
  readTargetsFile,
  renderLoadJson,
  renderLoadText,
  renderProgressLine,
  runLoad,
  type LoadEngine,
  type LoadOptions,
  type LoadProgress,
} from '../../load/index.js';
import type { CliContext } from '../context.js';
import { parseDurationArg, parseIntArg, parseNumberArg } from '../options.js';

interface LoadFlags {
  rate: number;
  duration: number;
  timeout: number;
  connections: number;
  maxInflight: number;
  requests: number;
  keepalive: boolean;
  unixSocket?: string;
  method?: string;
  header: string[];
  body?: string;
  targets?: string;
  output?: string;
  bucket: number;
  json?: boolean;
  failOnErrors?: boolean;
  engine: LoadEngine;
  startAt?: string;
  rateShare?: string;
}

// Progress is drawn only for runs long enough to need it, and only on a terminal.
const PROGRESS_MIN_MS = 2_000;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `badgateway load`: open-loop constant-rate load with a vegeta-style report. */
export function registerLoad(program: Command, ctx: CliContext): void {
  program
    .command('load')
    .description('Send HTTP requests at a constant rate (open loop) and report latencies, status codes and errors.')
    .argument('[url]', 'target URL, e.g. http://127.0.0.1:8080/ (with --unix-socket only the path and Host matter)')
    .addOption(new Option('--rate <n>', 'requests per second; 0 = as fast as possible with --connections (closed loop)').default(LOAD_DEFAULTS.rate).argParser(parseNumberArg(0)))
    .addOption(new Option('--duration <time>', 'how long to send, e.g. 500ms, 10s, 2m').default(LOAD_DEFAULTS.durationMs, '10s').argParser(parseDurationArg()))
    .addOption(new Option('--timeout <time>', 'per-request deadline (0 = none)').default(LOAD_DEFAULTS.timeoutMs, '5s').argParser(parseDurationArg({ allowZero: true })))
    .addOption(new Option('--connections <n>', 'max open connections per origin (closed loop: the concurrency)').default(LOAD_DEFAULTS.connections).argParser(parseIntArg(1, 1_000_000)))
    .addOption(new Option('--max-inflight <n>', 'max requests in flight; the pacer waits when reached (0 = no cap)').default(LOAD_DEFAULTS.maxInflight).argParser(parseIntArg(0)))
    .addOption(new Option('--requests <n>', 'stop after this many requests (0 = no cap)').default(0).argParser(parseIntArg(0)))
    .option('--keepalive', 'reuse connections (default)', true)
    .option('--no-keepalive', 'open a new connection for every request')
    .option('--unix-socket <path>', 'connect to this unix socket instead of the URL host')
    .option('-X, --method <method>', 'HTTP method (default GET)')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect, [])
    .option('--body <text>', 'request body, or @file to read it from a file')
    .option('--targets <file>', "targets file: vegeta's format (METHOD URL / headers / @body) or JSON lines; - = stdin")
    .option('--start-at <time>', 'start the pacer at this wall-clock time (RFC 3339, e.g. 2026-11-30T22:30:00Z, or unix seconds) and wait until then: several machines start together')
    .option('--rate-share <i/n>', 'send the i-th of n interleaved parts of --rate (the rate of all n machines together)')
    .option('--output <file>', 'write one NDJSON record per request to this file, after a header line with this host and the start (for `badgateway report`)')
    .addOption(new Option('--bucket <time>', 'timeline bucket width in the JSON report').default(LOAD_DEFAULTS.bucketMs, '1s').argParser(parseDurationArg()))
    .option('--json', 'print the metrics as JSON instead of text')
    .addOption(new Option('--engine <name>', 'HTTP client: raw (minimal HTTP/1.1 on node:net, fastest) or undici').choices(LOAD_ENGINES).default(LOAD_DEFAULTS.engine))
    .option('--fail-on-errors', 'exit 1 when any request failed or got a status outside 200–399')
    .addHelpText(
      'after',
      `
Latencies are measured from each request's due time (start + i/rate), so a server that stalls cannot
hide it by slowing the sender (no coordinated omission); "Uncorrected" is from the actual send.
Failed requests are data: counted per code (ECONNREFUSED, ECONNRESET, EAGAIN, ENOENT, TIMEOUT, CLOSED …).
Exit status: 0 when the run completed (even with errors), 1 with --fail-on-errors and failures,
2 on bad input, 130 when interrupted (the report is still printed).

Examples:
  badgateway load http://127.0.0.1:8080/ --rate 200 --duration 5s
  badgateway load --unix-socket /run/app.sock http://localhost/ --rate 500 --no-keepalive
  badgateway load http://127.0.0.1:8080/api -X POST -H 'Content-Type: application/json' --body @req.json
  badgateway load --targets targets.txt --rate 1000 --duration 30s --output run1.ndjson
  badgateway load http://127.0.0.1:8080/ --rate 0 --connections 50 --duration 10s --json

Many machines (one start, each a third of 30,000 req/s), then one report:
  T=$(date -d '+30 sec' +%s)
  badgateway load http://lb/ --rate 30000 --rate-share 1/3 --start-at $T --duration 60s --output web-1.ndjson   # on web-1
  badgateway load http://lb/ --rate 30000 --rate-share 2/3 --start-at $T --duration 60s --output web-2.ndjson   # on web-2
  badgateway load http://lb/ --rate 30000 --rate-share 3/3 --start-at $T --duration 60s --output web-3.ndjson   # on web-3
  badgateway report web-1.ndjson web-2.ndjson web-3.ndjson
`,
    )
    .action(async (url: string | undefined, flags: LoadFlags) => {
      const options = buildLoadOptions(url, flags);
      if (options.startAtMs !== undefined && options.startAtMs - Date.now() > 1000) {
        ctx.stderr.write(`badgateway load: starting at ${new Date(options.startAtMs).toISOString()} (in ${((options.startAtMs - Date.now()) / 1000).toFixed(1)} s)\n`);
      }
      const showProgress = ctx.stderr.isTTY === true && flags.duration > PROGRESS_MIN_MS && !flags.json;
      let drawn = false;
      const metrics = await runLoad({
        ...options,
        signal: ctx.signal,
        ...(showProgress
          ? {
              progressIntervalMs: 200,
              onProgress: (p: LoadProgress) => {
                drawn = true;
                // A line wider than the terminal would wrap and break the \r redraw.
                const columns = (ctx.stderr as { columns?: number }).columns ?? 120;
                ctx.stderr.write(`\r${renderProgressLine(p).slice(0, Math.max(20, columns - 1))}\x1b[K`);
              },
            }
          : {}),
      });
      if (drawn) ctx.stderr.write('\r\x1b[K');
      ctx.stdout.write(flags.json ? renderLoadJson(metrics) : renderLoadText(metrics));
      if (metrics.interrupted) ctx.exitCode = 130;
      else if (flags.failOnErrors && metrics.success < metrics.requests) ctx.exitCode = 1;
    });
}

/** Turns CLI flags into {@link LoadOptions}; bad input throws `BG_*` errors (exit 2). */
export function buildLoadOptions(url: string | undefined, flags: LoadFlags): LoadOptions {
  const options: LoadOptions = {
    rate: flags.rate,
    durationMs: flags.duration,
    timeoutMs: flags.timeout,
    connections: flags.connections,
    maxInflight: flags.maxInflight,
    maxRequests: flags.requests,
    keepAlive: flags.keepalive,
    bucketMs: flags.bucket,
    engine: flags.engine,
  };
  if (flags.output !== undefined) options.resultsPath = flags.output;
  if (flags.startAt !== undefined) options.startAtMs = parseStartAt(flags.startAt);
  if (flags.rateShare !== undefined) options.rateShare = parseRateShare(flags.rateShare);
  if (flags.unixSocket !== undefined) {
    let isSocket = false;
    try {
      isSocket = statSync(flags.unixSocket).isSocket();
    } catch (err) {
      throw new BadgatewayError(ERROR_CODES.NO_SUCH_SOCKET, `--unix-socket: ${flags.unixSocket} does not exist (${errnoCode(err) ?? 'error'})`, {
        hint: 'start the server first, or check the path',
      });
    }
    if (!isSocket) throw new BadgatewayError(ERROR_CODES.NO_SUCH_SOCKET, `--unix-socket: ${flags.unixSocket} is not a unix socket`);
    options.unixSocket = flags.unixSocket;
  }
  if (flags.targets !== undefined) {
    if (url !== undefined) throw badOption('url', url, 'either a URL or --targets, not both');
    options.targets = readTargetsFile(flags.targets);
    return options;
  }
  const body = flags.body?.startsWith('@') ? { file: flags.body.slice(1) } : flags.body;
  options.targets = [createTarget({ method: flags.method, url, headers: flags.header, body }, { unixSocket: flags.unixSocket !== undefined, naming: 'flags' })];
  return options;
}
