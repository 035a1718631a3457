import { InvalidArgumentError, Option, type Command } from 'commander';
import { isBadgatewayError } from '../../errors/index.js';
import { PROXY_DEFAULTS, parseUpstream, startProxy, type ProxyKind } from '../../proxy/index.js';
import type { CliContext } from '../context.js';
import { parseDurationArg, parseIntArg } from '../options.js';

interface ProxyCommandOptions {
  upstream: string;
  nginx?: boolean;
  haproxy?: boolean;
  caddy?: boolean;
  builtin?: boolean;
  haproxyLogTo: 'stdout' | 'socket';
  idleTimeout: number;
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
  $ badgateway proxy --upstream unix:/run/app.sock --haproxy --haproxy-log-to socket
  $ badgateway proxy --upstream 127.0.0.1:3000 --caddy --read-timeout 30s

Without --nginx/--haproxy/--caddy/--builtin it runs nginx when installed, else the built-in proxy.
nginx and the built-in proxy write an nginx-format error log and an access log with upstream status
and timings; HAProxy one log of httplog lines (its stdout, or syslog datagrams on a unix socket
badgateway reads); Caddy a JSON log of its errors and a JSON access log. The paths are printed at
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
    .description('run a reverse proxy (real nginx, HAProxy or Caddy, or the built-in one) in front of an upstream, logs in a temp dir')
    .requiredOption('--upstream <url>', 'http://HOST:PORT or unix:/path/to.sock', upstreamArg)
    .addOption(new Option('--nginx', 'run real nginx (fails if it is not installed)').conflicts(['builtin', 'haproxy', 'caddy']))
    .addOption(new Option('--haproxy', 'run real HAProxy (fails if it is not installed)').conflicts(['builtin', 'nginx', 'caddy']))
    .addOption(new Option('--caddy', 'run real Caddy (fails if it is not installed)').conflicts(['builtin', 'nginx', 'haproxy']))
    .addOption(new Option('--builtin', 'run the built-in node:http proxy').conflicts(['nginx', 'haproxy', 'caddy']))
    .option('--port <n>', 'port to listen on, 127.0.0.1 (0 = a free one)', parseIntArg(0, 65535), PROXY_DEFAULTS.listenPort)
    .option('--keepalive <n>', 'idle upstream keep-alive connections to keep (0 = none)', parseIntArg(0, 100_000), PROXY_DEFAULTS.keepalive)
    .addOption(durationOption('--connect-timeout <duration>', 'proxy_connect_timeout: longest wait for the upstream to accept', PROXY_DEFAULTS.connectTimeoutMs))
    .addOption(durationOption('--read-timeout <duration>', 'proxy_read_timeout: longest wait between two reads from the upstream', PROXY_DEFAULTS.readTimeoutMs))
    .addOption(durationOption('--send-timeout <duration>', 'proxy_send_timeout: longest wait between two writes to the upstream', PROXY_DEFAULTS.sendTimeoutMs))
    .addOption(durationOption('--client-header-timeout <duration>', "client_header_timeout: longest a client may take to send a request's head", PROXY_DEFAULTS.clientHeaderTimeoutMs))
    .addOption(durationOption('--client-body-timeout <duration>', 'client_body_timeout: longest wait between two reads of a request body', PROXY_DEFAULTS.clientBodyTimeoutMs))
    .addOption(durationOption('--client-send-timeout <duration>', 'send_timeout: longest wait between two writes to a client that does not read', PROXY_DEFAULTS.clientSendTimeoutMs))
    .option('--client-max-body-size <bytes>', 'client_max_body_size: larger request bodies get 413 (0 = no limit)', parseIntArg(0), PROXY_DEFAULTS.clientMaxBodyBytes)
    .option('--no-next-upstream', 'never retry, not even an idempotent request on a failed reused connection')
    .addOption(durationOption('--idle-timeout <duration>', 'HAProxy/Caddy: how long an idle pooled upstream connection is kept (nginx: upstream keepalive_timeout 60s)', 60_000))
    .addOption(new Option('--haproxy-log-to <target>', 'HAProxy: log to its stdout or to a unix datagram socket badgateway reads (syslog format)').choices(['stdout', 'socket']).default('stdout'))
    .addHelpText('after', EXAMPLES)
    .action(async (opts: ProxyCommandOptions) => {
      const kind: ProxyKind | 'auto' = opts.nginx ? 'nginx' : opts.haproxy ? 'haproxy' : opts.caddy ? 'caddy' : opts.builtin ? 'builtin' : 'auto';
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
          idleTimeoutMs: opts.idleTimeout,
          logTarget: opts.haproxyLogTo,
        }),
      );
      ctx.stdout.write(
        `proxying ${proxy.url} -> ${proxy.upstream} (${proxy.kind})\n` +
          (proxy.errorLogPath === proxy.accessLogPath
            ? `  log:        ${proxy.errorLogPath}\n`
            : `  error log:  ${proxy.errorLogPath}\n` + `  access log: ${proxy.accessLogPath}\n`) +
          `  pid ${proxy.pid}; Ctrl-C stops it and removes the logs\n`,
      );
      if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    });
}
