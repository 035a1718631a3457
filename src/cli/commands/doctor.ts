import { Option, type Command } from 'commander';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../../errors/index.js';
import {
  DOCTOR_DEFAULTS,
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
import { parseDurationArg, parseIntArg, parseNumberArg } from '../options.js';

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

/** `badgateway doctor`: diagnose a live process/port/socket and proxy logs. */
export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('name the cause of 502/504s: inspect a live process, port or unix socket (fds, accept queue, idle keep-alive connections) and proxy logs')
    .option('--pid <pid>', 'inspect this process (repeatable)', collect(parseIntArg(1)))
    .option('--port <port>', 'inspect the TCP listener on this port (repeatable)', collect(parseIntArg(1, 65535)))
    .option('--unix-socket <path>', 'inspect the listener on this unix socket (repeatable)', collect(String))
    .option('--nginx-error-log <file...>', "classify nginx-format error logs (nginx or badgateway's proxy); - = stdin; .gz and rotated parts")
    .option('--haproxy-log <file...>', "classify HAProxy logs (option httplog, raw or syslog): the termination state's letters")
    .option('--caddy-log <file...>', "classify Caddy's JSON log (http.log.error: dial/timeout errors)")
    .option('--envoy-log <file...>', 'classify Envoy access logs (default, Istio or JSON format): the response flags')
    .option('--traefik-log <file...>', "classify Traefik's JSON access log (OriginStatus, DownstreamStatus) and its debug lines")
    .option('--alb-log <file...>', 'classify AWS ALB access logs (elb_status_code, target_status_code, target_processing_time)')
    .option('--proxy-log <file...>', 'classify proxy logs of any of these formats, sniffed line by line (a file may mix them)')
    .option('--access-log <file...>', 'count 502/504 per upstream and time bucket (combined, combined+upstream_status=…, json)')
    .option('--json', `print the report as JSON (schema badgateway.doctor/v1; NDJSON with --watch)`)
    .addOption(new Option('--interval <duration>', 'time between the two samples of TcpExt ListenOverflows/ListenDrops and of unix socket connections (0 = one sample)').default(DOCTOR_DEFAULTS.intervalMs, '1s').argParser(parseDurationArg({ allowZero: true })))
    .addOption(new Option('--idle <duration>', 'a connection with no traffic for this long counts as idle').default(DOCTOR_DEFAULTS.idleMs, '10s').argParser(parseDurationArg()))
    .addOption(new Option('--idle-sockets <n>', 'idle connections on one listener that make a keep-alive leak').default(DOCTOR_DEFAULTS.idleSocketsMin).argParser(parseIntArg(1)))
    .addOption(new Option('--proxy-idle-timeout <duration>', "the proxy's idle timeout for pooled upstream connections: probe the upstream's Keep-Alive timeout and compare").argParser(parseDurationArg()))
    .addOption(new Option('--burst <n>', 'expected peak of simultaneous new connections: warn when a backlog is smaller').argParser(parseIntArg(1)))
    .addOption(new Option('--fd-warning <ratio>', 'fd usage (open / soft limit) that is a warning').default(DOCTOR_DEFAULTS.fdWarningRatio).argParser(parseNumberArg(0, 1, { exclusiveMin: true })))
    .addOption(new Option('--fd-critical <ratio>', 'fd usage that is critical').default(DOCTOR_DEFAULTS.fdCriticalRatio).argParser(parseNumberArg(0, 1, { exclusiveMin: true })))
    .addOption(new Option('--bucket <duration>', 'time bucket of the log timelines').default(DOCTOR_DEFAULTS.bucketS * 1000, '1m').argParser(parseDurationArg()))
    .addOption(new Option('--watch [seconds]', 're-sample every N seconds and print changes; logs are followed (new lines added) (Ctrl-C stops)').argParser(parseDurationArg()))
    .addOption(new Option('--count <n>', 'with --watch/--prometheus: stop after N samples (0 = until Ctrl-C)').default(0).argParser(parseIntArg(0)))
    .addOption(new Option('--prometheus <port>', 'serve the same facts as Prometheus metrics on PORT/metrics (0 = a free port) until Ctrl-C; logs are followed, so their counters grow (see badgateway mixin)').argParser(parseIntArg(0, 65535)))
    .option('--prometheus-host <host>', 'address for --prometheus', '127.0.0.1')
    .addHelpText(
      'after',
      `
With no target and no log, doctor inspects every listening socket of this machine.
Exit status: 0 healthy, 1 findings, 2 could not inspect (no such pid, permission denied, unreadable file).

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
        throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `--fd-warning ${opts.fdWarning} is above --fd-critical ${opts.fdCritical}`);
      }
      const stdinUses = [...(options.errorLogs ?? []), ...(options.proxyLogs ?? []).map((p) => p.file), ...(options.accessLogs ?? [])].filter((f) => f === '-').length;
      if (stdinUses > 1) throw new BadgatewayError(ERROR_CODES.BAD_OPTION, 'standard input (-) can be read only once');
      const repeating = opts.watch !== undefined || opts.prometheus !== undefined;
      if (!repeating) {
        const report = await createDoctorSampler(options).sample();
        ctx.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctorText(report));
        ctx.exitCode = report.exitCode;
        // A log that broke off (a truncated gzip): what was read is printed above, the run is no success.
        const broken = report.errorLog?.files.find((f) => f.error !== undefined);
        if (broken) throw new BadgatewayError(ERROR_CODES.UNREADABLE, `${broken.file}: ${broken.error} (the report above counts what was read)`);
        return;
      }
      await watch(ctx, opts, options);
    });
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
      ctx.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : last === undefined ? renderDoctorText(report) : renderWatchLine(report, last));
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
        throw new BadgatewayError(ERROR_CODES.ADDRESS_IN_USE, `--prometheus: ${opts.prometheusHost}:${opts.prometheus} is already in use`, { cause: err });
      }
      throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `--prometheus: cannot listen on ${opts.prometheusHost}:${opts.prometheus} (${errnoCode(err) ?? String(err)})`, { cause: err });
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
