import { InvalidArgumentError, Option, type Command } from 'commander';
import { isBadgatewayError } from '../../errors/index.js';
import { DEFAULTS, parseUpstream, startProxy, type ProxyKind } from '../../proxy/index.js';
import type { CliContext } from '../context.js';
import { parseDurationArg, parseIntArg } from '../options.js';

interface ProxyCommandOptions {
  upstream: string;
  nginx?: boolean;
  builtin?: boolean;
  port: number;
  keepalive: number;
  connectTimeout: number;
  readTimeout: number;
  sendTimeout: number;
  clientHeaderTimeout: number;
  clientBodyTimeout: number;
  clientSendTimeout: number;
  clientMaxBodySize: number;
  nextUpstream: boolean;
}

const EXAMPLES = `
Examples:
  $ badgateway proxy --upstream http://127.0.0.1:3000
  $ badgateway proxy --upstream unix:/run/app.sock --nginx --port 8080 --read-timeout 5s
  $ badgateway proxy --upstream 127.0.0.1:3000 --builtin --keepalive 0

Without --nginx/--builtin it runs nginx when installed, else the built-in proxy. Both write an
nginx-format error log and an access log with upstream status and timings; the paths are printed at
start and the files are removed when the proxy stops (Ctrl-C).`;

/** Commander parser: the upstream in its normal form, or a one-line error naming the value. */
function upstreamArg(value: string): string {
  try {
    return parseUpstream(value).url;
  } catch (err) {
    if (isBadgatewayError(err)) throw new InvalidArgumentError('expected http://HOST:PORT or unix:/absolute/path.');
    throw err;
  }
}

function durationOption(flags: string, description: string, defaultMs: number): Option {
  const shown = defaultMs % 1000 === 0 ? `${defaultMs / 1000}s` : `${defaultMs}ms`;
  return new Option(flags, description).argParser(parseDurationArg()).default(defaultMs, shown);
}

/** `badgateway proxy`: nginx or the built-in proxy in front of an upstream, until Ctrl-C. */
export function registerProxy(program: Command, ctx: CliContext): void {
  program
    .command('proxy')
    .description('run a reverse proxy (real nginx or the built-in one) in front of an upstream, with nginx-format logs')
    .requiredOption('--upstream <url>', 'http://HOST:PORT or unix:/path/to.sock', upstreamArg)
    .addOption(new Option('--nginx', 'run real nginx (fails if it is not installed)').conflicts('builtin'))
    .addOption(new Option('--builtin', 'run the built-in node:http proxy').conflicts('nginx'))
    .option('--port <n>', 'port to listen on, 127.0.0.1 (0 = a free one)', parseIntArg(0, 65535), DEFAULTS.listenPort)
    .option('--keepalive <n>', 'idle upstream keep-alive connections to keep (0 = none)', parseIntArg(0, 100_000), DEFAULTS.keepalive)
    .addOption(durationOption('--connect-timeout <duration>', 'proxy_connect_timeout: longest wait for the upstream to accept', DEFAULTS.connectTimeoutMs))
    .addOption(durationOption('--read-timeout <duration>', 'proxy_read_timeout: longest wait between two reads from the upstream', DEFAULTS.readTimeoutMs))
    .addOption(durationOption('--send-timeout <duration>', 'proxy_send_timeout: longest wait between two writes to the upstream', DEFAULTS.sendTimeoutMs))
    .addOption(durationOption('--client-header-timeout <duration>', "client_header_timeout: longest a client may take to send a request's head", DEFAULTS.clientHeaderTimeoutMs))
    .addOption(durationOption('--client-body-timeout <duration>', 'client_body_timeout: longest wait between two reads of a request body', DEFAULTS.clientBodyTimeoutMs))
    .addOption(durationOption('--client-send-timeout <duration>', 'send_timeout: longest wait between two writes to a client that does not read', DEFAULTS.clientSendTimeoutMs))
    .option('--client-max-body-size <bytes>', 'client_max_body_size: larger request bodies get 413 (0 = no limit)', parseIntArg(0), DEFAULTS.clientMaxBodyBytes)
    .option('--no-next-upstream', 'never retry, not even an idempotent request on a failed reused connection')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: ProxyCommandOptions) => {
      const kind: ProxyKind = opts.nginx ? 'nginx' : opts.builtin ? 'builtin' : 'auto';
      const proxy = ctx.own(
        await startProxy({
          kind,
          upstream: opts.upstream,
          listenPort: opts.port,
          keepalive: opts.keepalive,
          connectTimeoutMs: opts.connectTimeout,
          readTimeoutMs: opts.readTimeout,
          sendTimeoutMs: opts.sendTimeout,
          clientHeaderTimeoutMs: opts.clientHeaderTimeout,
          clientBodyTimeoutMs: opts.clientBodyTimeout,
          clientSendTimeoutMs: opts.clientSendTimeout,
          clientMaxBodyBytes: opts.clientMaxBodySize,
          nextUpstream: opts.nextUpstream,
        }),
      );
      ctx.stdout.write(
        `proxying ${proxy.url} -> ${proxy.upstream} (${proxy.kind})\n` +
          `  error log:  ${proxy.errorLogPath}\n` +
          `  access log: ${proxy.accessLogPath}\n` +
          `  pid ${proxy.pid}; Ctrl-C stops it and removes the logs\n`,
      );
      if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
}
