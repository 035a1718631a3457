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
  runLoad,
  type LoadEngine,
  type LoadOptions,
  type LoadProgress,
} from '../../load/index.js';
import { renderLoadJson, renderLoadText, renderProgressLine } from '../../report/index.js';
import type { CliContext } from '../context.js';
import { terminalColumns } from '../terminal.js';
import {
  DURATION_PLACEHOLDER,
  durationOption,
  EXIT_STATUS,
  jsonOption,
  parseIntArg,
  RATE_PLACEHOLDER,
  rateOption,
} from '../options.js';

interface LoadFlags {
  rate: number;
  duration: number;
  timeout: number;
  connections: number;
  maxInflight: number;
  requests: number;
  keepalive: boolean;
  unixSocket?: string;
  method: string;
  header?: string[];
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

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const EXAMPLES = `
Latencies are measured from each request's due time (start + i/rate), so a server that stalls cannot
hide it by slowing the sender (no coordinated omission); "Uncorrected" is from the actual send.
Failed requests are data: counted per code (ECONNREFUSED, ECONNRESET, EAGAIN, ENOENT, TIMEOUT, CLOSED …).

${EXIT_STATUS.load}

Examples:
  $ badgateway load http://127.0.0.1:8080/ -r 200 -d 5s
  $ badgateway load --unix-socket /run/app.sock http://localhost/ -r 500 --no-keepalive
  $ badgateway load http://127.0.0.1:8080/api -X POST -H 'Content-Type: application/json' --body @req.json
  $ badgateway load --targets targets.txt -r 1000 -d 30s --output run1.ndjson.gz
  $ badgateway load http://127.0.0.1:8080/ -r 0 -c 50 -d 10s --json
  $ badgateway load http://127.0.0.1:8080/ -r 100 -d 1m --output - | badgateway report -

Many machines (one start, each a third of 30,000 req/s), then one report:
  $ T=$(date -d '+30 sec' +%s)
  $ badgateway load http://lb/ -r 30000 --rate-share 1/3 --start-at $T -d 60s --output web-1.ndjson   # on web-1
  $ badgateway load http://lb/ -r 30000 --rate-share 2/3 --start-at $T -d 60s --output web-2.ndjson   # on web-2
  $ badgateway load http://lb/ -r 30000 --rate-share 3/3 --start-at $T -d 60s --output web-3.ndjson   # on web-3
  $ badgateway report web-1.ndjson web-2.ndjson web-3.ndjson`;

/** `badgateway load`: open-loop constant-rate load with a vegeta-style report. */
export function registerLoad(program: Command, ctx: CliContext): void {
  program
    .command('load')
    .description('send HTTP requests at a constant rate (open loop) and report latencies, status codes and errors')
    .argument('[url]', 'target URL, e.g. http://127.0.0.1:8080/ (with --unix-socket only the path and Host matter)')
    .addOption(
      rateOption(
        `-r, --rate ${RATE_PLACEHOLDER}`,
        'requests per second; 0 = as fast as possible with --connections (closed loop)',
        { defaultRate: LOAD_DEFAULTS.rate },
      ),
    )
    .addOption(durationOption(`-d, --duration ${DURATION_PLACEHOLDER}`, 'how long to send', LOAD_DEFAULTS.durationMs))
    .addOption(
      durationOption(`--timeout ${DURATION_PLACEHOLDER}`, 'per-request deadline (0 = none)', LOAD_DEFAULTS.timeoutMs, {
        allowZero: true,
      }),
    )
    .addOption(
      new Option('-c, --connections <n>', 'most open connections per origin (closed loop: the concurrency)')
        .default(LOAD_DEFAULTS.connections)
        .argParser(parseIntArg(1, 1_000_000)),
    )
    .addOption(
      new Option('--max-inflight <n>', 'most requests in flight; the pacer waits when reached (0 = no cap)')
        .default(LOAD_DEFAULTS.maxInflight)
        .argParser(parseIntArg(0)),
    )
    .addOption(
      new Option('-n, --requests <n>', 'stop after this many requests (0 = no cap)')
        .default(0)
        .argParser(parseIntArg(0)),
    )
    .addOption(new Option('--keepalive', 'reuse connections').default(true, 'on'))
    .option('--no-keepalive', 'open a new connection for every request')
    .option('--unix-socket <path>', 'connect to this unix socket instead of the URL host')
    .option('-X, --method <method>', 'the HTTP method', LOAD_DEFAULTS.method)
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('--body <text>', 'request body, or @file to read it from a file')
    .option('--targets <file>', "targets file: vegeta's format (METHOD URL / headers / @body) or JSON lines; - = stdin")
    .option(
      '--start-at <time>',
      'start the pacer at this wall-clock time (RFC 3339, e.g. 2026-11-30T22:30:00Z, or unix seconds) and wait until then: several machines start together',
    )
    .option(
      '--rate-share <i/n>',
      'send the i-th of n interleaved parts of --rate (the rate of all n machines together)',
    )
    .option(
      '--output <file>',
      'write one NDJSON record per request after a header line (for `badgateway report`); - = stdout (the report then goes to stderr), .gz = gzip',
    )
    .addOption(
      durationOption(
        `--bucket ${DURATION_PLACEHOLDER}`,
        'timeline bucket width in the JSON report',
        LOAD_DEFAULTS.bucketMs,
      ),
    )
    .addOption(jsonOption('print the metrics as JSON (schema badgateway.load/v1) instead of text'))
    .addOption(
      new Option('--engine <name>', 'the HTTP client: raw (minimal HTTP/1.1 on node:net, fastest) or undici')
        .choices(LOAD_ENGINES)
        .default(LOAD_DEFAULTS.engine),
    )
    .option('--fail-on-errors', 'exit 1 when any request failed or got a status outside 200-399')
    .addHelpText('after', EXAMPLES)
    .action((url: string | undefined, flags: LoadFlags) => runLoadCommand(url, flags, ctx));
}

/**
 * The action of `badgateway load`: builds the options from the flags, runs the load (progress on
 * stderr on a terminal) and prints the report; exit 1 with --fail-on-errors when a request failed.
 */
async function runLoadCommand(url: string | undefined, flags: LoadFlags, ctx: CliContext): Promise<void> {
  if (flags.output === '-' && flags.json)
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, '--output - and --json both write to stdout: give one of them');
  const options = buildLoadOptions(url, flags);
  // With the records on stdout (a pipe into `report -`), the people's report goes to stderr.
  const report = flags.output === '-' ? ctx.stderr : ctx.stdout;
  if (options.startAtMs !== undefined && options.startAtMs - Date.now() > 1000) {
    ctx.stderr.write(
      `badgateway load: starting at ${new Date(options.startAtMs).toISOString()} (in ${((options.startAtMs - Date.now()) / 1000).toFixed(1)} s)\n`,
    );
  }
  const showProgress = ctx.stderr.isTTY === true && flags.duration > PROGRESS_MIN_MS && !flags.json;
  let drawn = false;
  const metrics = await runLoad({
    ...options,
    ...(flags.output === '-' ? { resultsStdout: ctx.stdout } : {}),
    signal: ctx.signal,
    ...(showProgress
      ? {
          progressIntervalMs: 200,
          onProgress: (p: LoadProgress) => {
            drawn = true;
            // A line wider than the terminal would wrap and break the \r redraw.
            ctx.stderr.write(`\r${renderProgressLine(p, terminalColumns(ctx.stderr) - 1)}\x1b[K`);
          },
        }
      : {}),
  });
  if (drawn) ctx.stderr.write('\r\x1b[K');
  report.write(flags.json ? renderLoadJson(metrics) : renderLoadText(metrics));
  if (metrics.interrupted) ctx.exitCode = 130;
  else if (flags.failOnErrors && metrics.success < metrics.requests) ctx.exitCode = 1;
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
      throw new BadgatewayError(
        ERROR_CODES.NO_SUCH_SOCKET,
        `--unix-socket: ${flags.unixSocket} does not exist (${errnoCode(err) ?? 'error'})`,
        {
          hint: 'start the server first, or check the path',
        },
      );
    }
    if (!isSocket)
      throw new BadgatewayError(ERROR_CODES.NO_SUCH_SOCKET, `--unix-socket: ${flags.unixSocket} is not a socket`);
    options.unixSocket = flags.unixSocket;
  }
  if (flags.targets !== undefined) {
    if (url !== undefined) throw badOption('url', url, 'either a URL or --targets, not both');
    options.targets = readTargetsFile(flags.targets);
    return options;
  }
  const body = flags.body?.startsWith('@') ? { file: flags.body.slice(1) } : flags.body;
  options.targets = [
    createTarget(
      { method: flags.method, url, headers: flags.header, body },
      { unixSocket: flags.unixSocket !== undefined, naming: 'flags' },
    ),
  ];
  return options;
}
