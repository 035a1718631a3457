import { Option, type Command } from 'commander';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../../errors/index.js';
import {
  DOCTOR_DEFAULTS,
  FOLLOW_DEFAULTS,
  escapeForTerminal,
  renderFinding,
  runFollow,
  type FollowEvent,
  createDoctorMetrics,
  createDoctorSampler,
  renderDoctorText,
  renderWatchLine,
  startMetricsServer,
  type DoctorOptions,
  type DoctorReport,
} from '../../doctor/index.js';
import type { ProxyLogFormatChoice } from '../../causes/index.js';
import { sleep } from '../../util/index.js';
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
  RATE_PLACEHOLDER,
  rateOption,
} from '../options.js';

interface DoctorCliOptions {
  pid?: number[];
  port?: number[];
  unixSocket?: string[];
  nginxErrorLog?: string[];
  haproxyLog?: string[];
  caddyLog?: string[];
  envoyLog?: string[];
  traefikLog?: string[];
  albLog?: string[];
  proxyLog?: string[];
  accessLog?: string[];
  nginxConf?: string[];
  proxyDiscovery: boolean;
  proxyUser?: string;
  appLog?: string[];
  kernelLog: boolean;
  minBacklog: number;
  json?: boolean;
  interval: number;
  idle: number;
  idleSockets: number;
  proxyIdleTimeout?: number;
  burst?: number;
  fdWarning: number;
  fdCritical: number;
  bucket: number;
  watch?: number | true;
  count: number;
  prometheus?: number;
  prometheusHost: string;
  follow?: boolean;
  closeAfter: number;
  sampleRate: number;
  fromStart?: boolean;
}

const collect =
  <T>(parse: (v: string) => T) =>
  (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

/** The --haproxy-log … --proxy-log files, each with its format (`auto` for --proxy-log). */
function proxyLogInputs(opts: DoctorCliOptions): { file: string; format: ProxyLogFormatChoice }[] {
  const byFormat: [string[] | undefined, ProxyLogFormatChoice][] = [
    [opts.haproxyLog, 'haproxy'],
    [opts.caddyLog, 'caddy'],
    [opts.envoyLog, 'envoy'],
    [opts.traefikLog, 'traefik'],
    [opts.albLog, 'alb'],
    [opts.proxyLog, 'auto'],
  ];
  return byFormat.flatMap(([files, format]) => (files ?? []).map((file) => ({ file, format })));
}

/** Default --watch period when given without a value, and --prometheus' sampling period. */
const DEFAULT_WATCH_MS = 5000;

/**
 * `badgateway doctor`: diagnose a live process/port/socket and proxy logs.
 * Long on purpose: one commander chain that declares the flags in the order `--help` lists them;
 * the action only calls into doctor/ and renders.
 */
export function registerDoctor(program: Command, ctx: CliContext): void {
  const command = program
    .command('doctor')
    .description(
      'name the cause of 502/504s: inspect a live process, port or unix socket (fds, accept queue, idle keep-alive connections) and proxy logs',
    )
    .option('--pid <pid>', 'inspect this process (repeatable)', collect(parseIntArg(1)))
    .option('--port <port>', 'inspect the TCP listener on this port (repeatable)', collect(parseIntArg(1, 65535)))
    .option('--unix-socket <path>', 'inspect the listener on this unix socket (repeatable)', collect(String))
    .option(
      '--nginx-error-log <file...>',
      "classify nginx-format error logs (nginx or badgateway's proxy); - = stdin; .gz and rotated parts",
    )
    .option(
      '--haproxy-log <file...>',
      "classify HAProxy logs (option httplog, raw or syslog): the termination state's letters",
    )
    .option('--caddy-log <file...>', "classify Caddy's JSON log (http.log.error: dial/timeout errors)")
    .option('--envoy-log <file...>', 'classify Envoy access logs (default, Istio or JSON format): the response flags')
    .option(
      '--traefik-log <file...>',
      "classify Traefik's JSON access log (OriginStatus, DownstreamStatus) and its debug lines",
    )
    .option(
      '--alb-log <file...>',
      'classify AWS ALB access logs (elb_status_code, target_status_code, target_processing_time)',
    )
    .option(
      '--proxy-log <file...>',
      'classify proxy logs of any of these formats, sniffed line by line (a file may mix them)',
    )
    .option(
      '--access-log <file...>',
      'count 502/504 per upstream and time bucket (combined, combined+upstream_status=…, json)',
    )
    .option(
      '--nginx-conf <file...>',
      "the proxy's nginx.conf (includes followed): upstreams, keepalive pools, timeouts, worker user and limits; with no target its upstreams are inspected",
    )
    .option(
      '--no-proxy-discovery',
      "do not read the running nginx (nginx -T with its own -p/-c, workers' uid/gid) when no --nginx-conf is given",
    )
    .option(
      '--proxy-user <user>',
      "the proxy workers' user for the unix socket permission check (www-data, 'nobody nogroup', 33:33); default: the running workers' or the config's",
    )
    .option(
      '--app-log <file...>',
      "app server logs (gunicorn's error log, uvicorn/Node stderr): WORKER TIMEOUT, SIGKILL, fatal traces name upstream-crash",
    )
    .option('--no-kernel-log', 'do not read the kernel log (journalctl -k, dmesg) for OOM kills')
    .addOption(
      new Option(
        '--min-backlog <n>',
        'a listen backlog below this while net.core.somaxconn is higher is a warning (0 = off)',
      )
        .default(DOCTOR_DEFAULTS.minBacklog)
        .argParser(parseIntArg(0)),
    )
    .addOption(
      jsonOption(
        'print the report as JSON (schema badgateway.doctor/v1; NDJSON with --watch; --follow: one event a line, schema badgateway.doctor.follow/v1)',
      ),
    )
    .addOption(
      durationOption(
        `--interval ${DURATION_PLACEHOLDER}`,
        'time between the two samples of TcpExt ListenOverflows/ListenDrops and of unix socket connections (0 = one sample)',
        DOCTOR_DEFAULTS.intervalMs,
        { allowZero: true },
      ),
    )
    .addOption(
      durationOption(
        `--idle ${DURATION_PLACEHOLDER}`,
        'a connection with no traffic for this long counts as idle',
        DOCTOR_DEFAULTS.idleMs,
      ),
    )
    .addOption(
      new Option('--idle-sockets <n>', 'idle connections on one listener that make a keep-alive leak')
        .default(DOCTOR_DEFAULTS.idleSocketsMin)
        .argParser(parseIntArg(1)),
    )
    .addOption(
      durationOption(
        `--proxy-idle-timeout ${DURATION_PLACEHOLDER}`,
        "the proxy's idle timeout for pooled upstream connections: probe the upstream's Keep-Alive timeout and compare",
      ),
    )
    .addOption(
      new Option(
        '--burst <n>',
        'expected peak of simultaneous new connections: warn when a backlog is smaller',
      ).argParser(parseIntArg(1)),
    )
    .addOption(
      new Option('--fd-warning <ratio>', 'fd usage (open / soft limit) that is a warning')
        .default(DOCTOR_DEFAULTS.fdWarningRatio)
        .argParser(parseNumberArg(0, 1, { exclusiveMin: true })),
    )
    .addOption(
      new Option('--fd-critical <ratio>', 'fd usage that is critical')
        .default(DOCTOR_DEFAULTS.fdCriticalRatio)
        .argParser(parseNumberArg(0, 1, { exclusiveMin: true })),
    )
    .addOption(
      durationOption(
        `--bucket ${DURATION_PLACEHOLDER}`,
        'time bucket of the log timelines',
        DOCTOR_DEFAULTS.bucketS * 1000,
      ),
    )
    .addOption(
      durationOption(
        `--watch [duration]`,
        `re-sample every so often (default ${formatDuration(DEFAULT_WATCH_MS)}) and print what changed; logs are followed (new lines added); Ctrl-C stops`,
      ),
    )
    .addOption(
      new Option('--count <n>', 'with --watch/--prometheus: stop after N samples (0 = until Ctrl-C)')
        .default(0)
        .argParser(parseIntArg(0)),
    )
    .addOption(
      new Option(
        '--prometheus <port>',
        'serve the same facts as Prometheus metrics on PORT/metrics (0 = a free port) until Ctrl-C; logs are followed, so their counters grow (see badgateway mixin)',
      ).argParser(parseIntArg(0, 65535)),
    )
    .option('--prometheus-host <host>', 'address for --prometheus', '127.0.0.1')
    .option(
      '--follow',
      'flight recorder: follow --nginx-error-log like tail -F (rotation, truncation) and sample each failing upstream at once; one finding per incident (NDJSON with --json); Ctrl-C stops',
    )
    .addOption(
      durationOption(
        `--close-after ${DURATION_PLACEHOLDER}`,
        'with --follow: an incident closes after this long without a line of it',
        FOLLOW_DEFAULTS.quietCloseMs,
      ),
    )
    .addOption(
      rateOption(`--sample-rate ${RATE_PLACEHOLDER}`, 'with --follow: most upstream samples a second', {
        min: 1,
        max: 100,
        defaultRate: FOLLOW_DEFAULTS.maxSamplesPerSecond,
      }),
    )
    .option('--from-start', 'with --follow: read the log from its start, not only the lines written from now on');
  addDeprecatedAliases(command, ctx, [
    { flags: '--quiet <duration>', replacement: '--close-after', attribute: 'closeAfter', parse: parseDurationArg() },
  ]);
  command
    .addHelpText(
      'after',
      `
The first line names the root cause: "Most likely: CAUSE (where): what was seen". What holds a
process's fds decides between causes (idle keep-alive connections, CLOSE_WAIT sockets, the app's own
files); the proxy's config (--nginx-conf, or nginx -T of the running nginx that writes the error log)
rules out what it makes impossible (no upstream keepalive pool: no keep-alive race).
With no target and no log, doctor inspects every listening socket of this machine; with a config
(given or found), the upstreams it names.
What could not be read (a process doctor may not inspect, a config, the kernel log) is one line each
on stderr and a "not seen:" line in the report; doctor never says "healthy" over facts it did not see.

${EXIT_STATUS.doctor}

Examples:
  $ badgateway doctor --pid 4242
  $ badgateway doctor --unix-socket /run/gunicorn.sock --burst 200
  $ badgateway doctor --port 8080 --proxy-idle-timeout 60s
  $ badgateway doctor --nginx-error-log /var/log/nginx/error.log /var/log/nginx/error.log.1 /var/log/nginx/error.log.2.gz
  $ zcat error.log.*.gz | badgateway doctor --nginx-error-log - --json | jq '.findings[].cause'
  $ badgateway doctor --haproxy-log /var/log/haproxy.log /var/log/haproxy.log.1.gz
  $ badgateway doctor --alb-log 123456789012_elasticloadbalancing_*.log.gz
  $ badgateway doctor --proxy-log mixed.log                    nginx, HAProxy, Caddy, Envoy, Traefik, ALB lines
  $ badgateway doctor --access-log /var/log/nginx/access.log --bucket 5m
  $ badgateway doctor --nginx-error-log /var/log/nginx/error.log --app-log /var/log/gunicorn/error.log
  $ badgateway doctor --nginx-conf /etc/nginx/nginx.conf
  $ badgateway doctor --unix-socket /run/gunicorn.sock --proxy-user www-data
  $ badgateway doctor --follow --nginx-error-log /var/log/nginx/error.log
  $ badgateway doctor --follow --nginx-error-log /var/log/nginx/error.log --json >> incidents.ndjson
  $ badgateway doctor --port 8080 --watch 2
  $ badgateway doctor --port 8080 --prometheus 9464`,
    )
    .action(async (opts: DoctorCliOptions) => {
      const options: Partial<DoctorOptions> = {
        pids: opts.pid ?? [],
        ports: opts.port ?? [],
        unixSockets: opts.unixSocket ?? [],
        errorLogs: opts.nginxErrorLog ?? [],
        proxyLogs: proxyLogInputs(opts),
        accessLogs: opts.accessLog ?? [],
        nginxConfs: opts.nginxConf ?? [],
        discoverProxy: opts.proxyDiscovery,
        ...(opts.proxyUser !== undefined ? { proxyUser: opts.proxyUser } : {}),
        appLogs: opts.appLog ?? [],
        kernelLog: opts.kernelLog,
        minBacklog: opts.minBacklog,
        intervalMs: opts.interval,
        idleMs: opts.idle,
        idleSocketsMin: opts.idleSockets,
        proxyIdleTimeoutMs: opts.proxyIdleTimeout ?? 0,
        burst: opts.burst ?? 0,
        fdWarningRatio: opts.fdWarning,
        fdCriticalRatio: opts.fdCritical,
        bucketS: Math.max(1, Math.round(opts.bucket / 1000)),
        signal: ctx.signal,
      };
      if (opts.fdWarning > opts.fdCritical) {
        throw new BadgatewayError(
          ERROR_CODES.BAD_OPTION,
          `--fd-warning ${opts.fdWarning} is above --fd-critical ${opts.fdCritical}`,
        );
      }
      const stdinUses = [
        ...(options.errorLogs ?? []),
        ...(options.proxyLogs ?? []).map((p) => p.file),
        ...(options.accessLogs ?? []),
      ].filter((f) => f === '-').length;
      if (stdinUses > 1) throw new BadgatewayError(ERROR_CODES.BAD_OPTION, 'standard input (-) can be read only once');
      if (opts.follow) {
        await follow(ctx, opts, options);
        return;
      }
      const repeating = opts.watch !== undefined || opts.prometheus !== undefined;
      if (!repeating) {
        const report = await createDoctorSampler(options).sample();
        reportUnseen(ctx, report);
        ctx.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctorText(report));
        ctx.exitCode = report.exitCode;
        // A log that broke off (a truncated gzip): what was read is printed above, the run is no success.
        const broken = report.errorLog?.files.find((f) => f.error !== undefined);
        if (broken)
          throw new BadgatewayError(
            ERROR_CODES.UNREADABLE,
            `${broken.file}: ${broken.error} (the report above counts what was read)`,
          );
        return;
      }
      await watch(ctx, opts, options);
    });
}

/**
 * What could not be read is one line each on stderr (the report lists it too); when nothing at all
 * could be inspected that is an error (exit 2), named by its first line.
 */
function reportUnseen(ctx: CliContext, report: DoctorReport): void {
  const inspected =
    report.facts !== null ||
    report.errorLog !== null ||
    report.accessLog !== null ||
    report.proxyConfigs.length > 0 ||
    report.crashLogs.some((c) => !c.sources.some((s) => s.startsWith('kernel:')));
  if (!inspected && report.unseen.length > 0) throw new BadgatewayError(ERROR_CODES.UNREADABLE, report.unseen[0]!);
  for (const line of report.unseen) ctx.stderr.write(`badgateway: ${line}\n`);
}

/** --follow: the flight recorder, until Ctrl-C. Exit 1 when it saw an incident. */
async function follow(ctx: CliContext, opts: DoctorCliOptions, options: Partial<DoctorOptions>): Promise<void> {
  if (opts.watch !== undefined || opts.prometheus !== undefined)
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, '--follow cannot be combined with --watch or --prometheus');
  if ((options.errorLogs ?? []).length !== 1)
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, '--follow needs exactly one --nginx-error-log FILE to follow');
  const print = (e: FollowEvent): void => {
    if (opts.json) {
      ctx.stdout.write(`${JSON.stringify({ schema: jsonSchema('doctor.follow'), ...e })}\n`);
      return;
    }
    // Log lines and upstream names come from whoever wrote the log: escaped for the terminal.
    const write = (text: string): boolean => ctx.stdout.write(`${escapeForTerminal(text)}\n`);
    if (e.event === 'notice') write(`note: ${e.message}`);
    else if (e.event === 'opened')
      write(
        `${new Date().toISOString().slice(11, 19)}  incident ${e.incident.id} opened: ${e.incident.cause} on ${e.incident.upstream} — ${e.incident.example.replace(/^.*?\[\w+\] \d+#\d+: (?:\*\d+ )?/, '').replace(/, client: .*$/, '')}`,
      );
    else if (e.incident.finding) {
      write(
        `${new Date().toISOString().slice(11, 19)}  incident ${e.incident.id} closed: ${e.incident.cause} on ${e.incident.upstream}`,
      );
      write(`${renderFinding(e.incident.finding).join('\n')}\n`);
    }
  };
  const { incidents, unseen } = await runFollow(
    options,
    { quietCloseMs: opts.closeAfter, maxSamplesPerSecond: opts.sampleRate, fromStart: opts.fromStart ?? false },
    print,
  );
  for (const line of unseen) ctx.stderr.write(`badgateway: ${line}\n`);
  if (!opts.json) ctx.stdout.write(`${incidents.length} incident${incidents.length === 1 ? '' : 's'}\n`);
  ctx.exitCode = incidents.length > 0 ? 1 : 0;
}

/** --watch / --prometheus: sample until Ctrl-C (ctx.signal) or --count samples. */
async function watch(ctx: CliContext, opts: DoctorCliOptions, options: Partial<DoctorOptions>): Promise<void> {
  const periodMs = typeof opts.watch === 'number' ? opts.watch : DEFAULT_WATCH_MS;
  // Between samples the counters are compared with the previous sample: no extra wait inside one.
  const sampler = createDoctorSampler({ ...options, intervalMs: 0 }, {}, { follow: true });
  const metrics = opts.prometheus !== undefined ? createDoctorMetrics() : undefined;
  let last: DoctorReport | undefined;
  let samples = 0;
  const take = async (): Promise<void> => {
    const report = await sampler.sample();
    metrics?.update(report);
    if (opts.watch !== undefined) {
      ctx.stdout.write(
        opts.json
          ? `${JSON.stringify(report)}\n`
          : last === undefined
            ? renderDoctorText(report)
            : renderWatchLine(report, last),
      );
    }
    last = report;
    samples += 1;
  };
  await take();
  if (metrics) {
    let server;
    try {
      server = await startMetricsServer(metrics.registry, { port: opts.prometheus ?? 0, host: opts.prometheusHost });
    } catch (err) {
      if (errnoCode(err) === 'EADDRINUSE') {
        throw new BadgatewayError(
          ERROR_CODES.ADDRESS_IN_USE,
          `--prometheus: ${opts.prometheusHost}:${opts.prometheus} is already in use`,
          { cause: err },
        );
      }
      throw new BadgatewayError(
        ERROR_CODES.BAD_OPTION,
        `--prometheus: cannot listen on ${opts.prometheusHost}:${opts.prometheus} (${errnoCode(err) ?? String(err)})`,
        { cause: err },
      );
    }
    ctx.own(server);
    ctx.stdout.write(`metrics on ${server.url}\n`);
  }
  while (!ctx.signal.aborted && (opts.count === 0 || samples < opts.count)) {
    try {
      await sleep(periodMs, ctx.signal);
      await take();
    } catch (err) {
      if (ctx.signal.aborted) break;
      throw err;
    }
  }
  ctx.exitCode = last?.exitCode ?? 0;
}
