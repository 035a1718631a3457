import { InvalidArgumentError, Option, type Command } from 'commander';
import { isBadgatewayError } from '../../errors/index.js';
import { PROXY_DEFAULTS, parseUpstream, startProxy, type ProxyHandle, type ProxyKind } from '../../proxy/index.js';
import type { CliContext } from '../context.js';
import {
  addDeprecatedAliases,
  DURATION_PLACEHOLDER,
  durationOption,
  EXIT_STATUS,
  jsonOption,
  jsonSchema,
  parseDurationArg,
  parseIntArg,
  requiredOption,
  SIZE_PLACEHOLDER,
  sizeOption,
} from '../options.js';

interface ProxyCommandOptions {
  upstream: string;
  nginx?: boolean;
  haproxy?: boolean;
  caddy?: boolean;
  builtin?: boolean;
  haproxyLogTo: 'stdout' | 'socket';
  upstreamIdleTimeout: number;
  port: number;
  upstreamKeepalive: number;
  connectTimeout: number;
  readTimeout: number;
  sendTimeout: number;
  clientHeaderTimeout: number;
  clientBodyTimeout: number;
  clientSendTimeout: number;
  clientMaxBodySize: number;
  nextUpstream: boolean;
  json?: boolean;
}

const EXAMPLES = `
Without --nginx/--haproxy/--caddy/--builtin it runs nginx when installed, else the built-in proxy.
nginx and the built-in proxy write an nginx-format error log and an access log with upstream status
and timings; HAProxy one log of httplog lines (its stdout, or syslog datagrams on a unix socket
badgateway reads); Caddy a JSON log of its errors and a JSON access log. The paths are printed at
start (--json: one JSON line) and the files are removed when the proxy stops (Ctrl-C).

${EXIT_STATUS.proxy}

Examples:
  $ badgateway proxy --upstream http://127.0.0.1:3000
  $ badgateway proxy --upstream unix:/run/app.sock --nginx --port 8080 --read-timeout 5s
  $ badgateway proxy --upstream 127.0.0.1:3000 --builtin --upstream-keepalive 0
  $ badgateway proxy --upstream unix:/run/app.sock --haproxy --haproxy-log-to socket
  $ badgateway proxy --upstream 127.0.0.1:3000 --caddy --read-timeout 30s
  $ badgateway proxy --upstream 127.0.0.1:3000 --json | head -1 | jq -r .url`;

/** Commander parser: the upstream in its normal form, or a one-line error naming the value. */
function upstreamArg(value: string): string {
  try {
    return parseUpstream(value).url;
  } catch (err) {
    if (isBadgatewayError(err)) throw new InvalidArgumentError('expected http://HOST:PORT or unix:/absolute/path.');
    throw err;
  }
}

/**
 * `badgateway proxy`: nginx, HAProxy, Caddy or the built-in proxy in front of an upstream, until Ctrl-C.
 * Long on purpose: one commander chain that declares the flags in the order `--help` lists them
 * (most of them the proxy's timeouts, one nginx directive each); the action is {@link runProxyCommand}.
 */
export function registerProxy(program: Command, ctx: CliContext): void {
  const command = program
    .command('proxy')
    .description(
      'run a reverse proxy (real nginx, HAProxy or Caddy, or the built-in one) in front of an upstream, logs in a temp dir',
    )
    .addOption(
      requiredOption(
        new Option('--upstream <url>', 'where to send requests: http://HOST:PORT or unix:/path/to.sock').argParser(
          upstreamArg,
        ),
      ),
    )
    .addOption(
      new Option('--nginx', 'run real nginx (fails if it is not installed)').conflicts(['builtin', 'haproxy', 'caddy']),
    )
    .addOption(
      new Option('--haproxy', 'run real HAProxy (fails if it is not installed)').conflicts([
        'builtin',
        'nginx',
        'caddy',
      ]),
    )
    .addOption(
      new Option('--caddy', 'run real Caddy (fails if it is not installed)').conflicts(['builtin', 'nginx', 'haproxy']),
    )
    .addOption(new Option('--builtin', 'run the built-in node:http proxy').conflicts(['nginx', 'haproxy', 'caddy']))
    .addOption(
      new Option('--port <n>', 'port to listen on, 127.0.0.1 (0 = a free one)')
        .argParser(parseIntArg(0, 65535))
        .default(PROXY_DEFAULTS.listenPort),
    )
    .addOption(
      new Option(
        '--upstream-keepalive <n>',
        'idle upstream connections to keep for reuse (0 = a new connection per request)',
      )
        .argParser(parseIntArg(0, 100_000))
        .default(PROXY_DEFAULTS.keepalive),
    )
    .addOption(
      durationOption(
        `--upstream-idle-timeout ${DURATION_PLACEHOLDER}`,
        'with --haproxy or --caddy: how long an idle pooled upstream connection is kept (nginx keeps them 60s, its keepalive_timeout)',
        60_000,
      ),
    )
    .addOption(
      durationOption(
        `--connect-timeout ${DURATION_PLACEHOLDER}`,
        'proxy_connect_timeout: longest wait for the upstream to accept',
        PROXY_DEFAULTS.connectTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        `--read-timeout ${DURATION_PLACEHOLDER}`,
        'proxy_read_timeout: longest wait between two reads from the upstream',
        PROXY_DEFAULTS.readTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        `--send-timeout ${DURATION_PLACEHOLDER}`,
        'proxy_send_timeout: longest wait between two writes to the upstream',
        PROXY_DEFAULTS.sendTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        `--client-header-timeout ${DURATION_PLACEHOLDER}`,
        "client_header_timeout: longest a client may take to send a request's head",
        PROXY_DEFAULTS.clientHeaderTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        `--client-body-timeout ${DURATION_PLACEHOLDER}`,
        'client_body_timeout: longest wait between two reads of a request body',
        PROXY_DEFAULTS.clientBodyTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        `--client-send-timeout ${DURATION_PLACEHOLDER}`,
        'send_timeout: longest wait between two writes to a client that does not read',
        PROXY_DEFAULTS.clientSendTimeoutMs,
      ),
    )
    .addOption(
      sizeOption(
        `--client-max-body-size ${SIZE_PLACEHOLDER}`,
        'client_max_body_size: larger request bodies get 413 (0 = no limit)',
        PROXY_DEFAULTS.clientMaxBodyBytes,
      ),
    )
    .option('--no-next-upstream', 'never retry, not even an idempotent request on a failed reused connection')
    .addOption(
      new Option(
        '--haproxy-log-to <target>',
        'with --haproxy: log to its stdout or to a unix datagram socket badgateway reads (syslog format)',
      )
        .choices(['stdout', 'socket'])
        .default('stdout'),
    )
    .addOption(
      jsonOption(
        'print the ready line as one JSON object (schema badgateway.proxy/v1: url, kind, pid, log paths) instead of text',
      ),
    )
    .addHelpText('after', EXAMPLES);
  addDeprecatedAliases(command, ctx, [
    {
      flags: '--keepalive <n>',
      replacement: '--upstream-keepalive',
      attribute: 'upstreamKeepalive',
      parse: parseIntArg(0, 100_000),
    },
    {
      flags: '--idle-timeout <duration>',
      replacement: '--upstream-idle-timeout',
      attribute: 'upstreamIdleTimeout',
      parse: parseDurationArg(),
    },
  ]);
  command.action((opts: ProxyCommandOptions) => runProxyCommand(opts, ctx));
}

/** The action of `badgateway proxy`: starts the proxy, prints where it listens and logs, runs until Ctrl-C. */
async function runProxyCommand(opts: ProxyCommandOptions, ctx: CliContext): Promise<void> {
  const proxy = ctx.own(
    await startProxy({
      kind: proxyKindOf(opts),
      upstream: opts.upstream,
      listenPort: opts.port,
      keepalive: opts.upstreamKeepalive,
      connectTimeoutMs: opts.connectTimeout,
      readTimeoutMs: opts.readTimeout,
      sendTimeoutMs: opts.sendTimeout,
      clientHeaderTimeoutMs: opts.clientHeaderTimeout,
      clientBodyTimeoutMs: opts.clientBodyTimeout,
      clientSendTimeoutMs: opts.clientSendTimeout,
      clientMaxBodyBytes: opts.clientMaxBodySize,
      nextUpstream: opts.nextUpstream,
      idleTimeoutMs: opts.upstreamIdleTimeout,
      logTarget: opts.haproxyLogTo,
    }),
  );
  ctx.stdout.write(renderReady(proxy, opts.json === true));
  if (!ctx.signal.aborted)
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
}

/** The proxy the flags ask for: one of --nginx/--haproxy/--caddy/--builtin (commander lets one through), else auto. */
function proxyKindOf(opts: ProxyCommandOptions): ProxyKind | 'auto' {
  if (opts.nginx) return 'nginx';
  if (opts.haproxy) return 'haproxy';
  if (opts.caddy) return 'caddy';
  if (opts.builtin) return 'builtin';
  return 'auto';
}

/** `proxy`'s ready line: a few lines for people, or one JSON object (schema badgateway.proxy/v1) for scripts. */
function renderReady(proxy: ProxyHandle, json: boolean): string {
  const oneLog = proxy.errorLogPath === proxy.accessLogPath;
  if (json) {
    const logs = oneLog
      ? { log: proxy.errorLogPath }
      : { errorLog: proxy.errorLogPath, accessLog: proxy.accessLogPath };
    return `${JSON.stringify({ schema: jsonSchema('proxy'), event: 'ready', url: proxy.url, port: proxy.port, kind: proxy.kind, upstream: proxy.upstream, pid: proxy.pid, ...logs })}\n`;
  }
  return (
    `proxying ${proxy.url} -> ${proxy.upstream} (${proxy.kind})\n` +
    (oneLog
      ? `  log:        ${proxy.errorLogPath}\n`
      : `  error log:  ${proxy.errorLogPath}\n` + `  access log: ${proxy.accessLogPath}\n`) +
    `  pid ${proxy.pid}; Ctrl-C stops it and removes the logs\n`
  );
}
