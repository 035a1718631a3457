import { badOption } from '../errors/index.js';
import { stripUndefined } from '../util/index.js';
import type { ProxyLogInput } from './error-log.js';

/** Everything `badgateway doctor` can be asked to look at, and its thresholds. */
export interface DoctorOptions {
  /** Processes to inspect (fds, their listening sockets). */
  pids: number[];
  /** TCP ports to inspect (the listener, its queue, its connections, its owner). */
  ports: number[];
  /** Unix socket paths to inspect. */
  unixSockets: string[];
  /** nginx-format error logs (nginx's or the built-in proxy's); `-` = stdin; gzip detected. */
  errorLogs: string[];
  /** Access logs (see access-log.ts for the formats). */
  accessLogs: string[];
  /** Logs of other proxies (HAProxy, Caddy, Envoy, Traefik, ALB), each with its format or `auto`. */
  proxyLogs: ProxyLogInput[];
  /**
   * nginx configuration files (`--nginx-conf`; includes followed): upstreams, keep-alive pools,
   * timeouts, worker user and limits. With none, running nginx masters are read with `nginx -T`
   * (see `discoverProxy`).
   */
  nginxConfs: string[];
  /**
   * Read the running nginx's configuration (`nginx -T` with the master's own -p/-c) and its workers'
   * uid/gid when no `nginxConfs` are given: the masters writing one of `errorLogs`, or every master
   * when no log is given. Default true.
   */
  discoverProxy: boolean;
  /** The proxy workers' user (`www-data`, `nobody nogroup`, `33:33`) for the socket permission check; overrides the config and the running workers. */
  proxyUser?: string;
  /** App server logs (gunicorn's error log, uvicorn's or Node's stderr): worker timeouts, kills and fatal traces. */
  appLogs: string[];
  /** Read the kernel log (`journalctl -k`, else `dmesg`) for OOM kills when worker deaths are in question. Default true. */
  kernelLog: boolean;
  /** With no target and no log: inspect every listening socket of the machine. Default true. */
  scanAll: boolean;
  /**
   * Time between the two samples of the TCP ListenOverflows/ListenDrops counters and of unix socket
   * connections (idle = quiet at both), ms (0 = one sample: no counter delta, no unix idle check).
   */
  intervalMs: number;
  /** fd usage (open / soft limit) from which fd exhaustion is a warning / critical. */
  fdWarningRatio: number;
  fdCriticalRatio: number;
  /** Accept-queue fill (queue / backlog) from which it is a warning; full (≥ backlog) is critical. */
  queueWarningRatio: number;
  /** An ESTABLISHED connection counts as idle after this long without traffic, ms. */
  idleMs: number;
  /** Idle connections on one listener from which they are a keep-alive leak (count). */
  idleSocketsMin: number;
  /** The proxy's idle timeout for pooled upstream connections, ms (0 = unknown: no keep-alive race check). */
  proxyIdleTimeoutMs: number;
  /** A listen backlog below this while net.core.somaxconn is higher is a warning even without `burst` (0 = off). */
  minBacklog: number;
  /** Expected peak of simultaneous new connections (0 = unknown): a backlog below it is a warning. */
  burst: number;
  /** somaxconn below this caps the usual backlogs (gunicorn 2048, nginx 511): worth a warning when a backlog hits it. */
  minSomaxconn: number;
  /** Error-log lines of one cause from which its finding is critical (fewer: warning). */
  logCriticalLines: number;
  /** Log timeline bucket, seconds. */
  bucketS: number;
  /** HTTP probe timeout (Keep-Alive header), ms. */
  probeTimeoutMs: number;
  /** Longest log line kept, characters. */
  maxLineChars: number;
  /** Stops collection (Ctrl-C). */
  signal?: AbortSignal;
}

/** Defaults of {@link DoctorOptions}; 0 = off where it says so. */
export const DOCTOR_DEFAULTS: Readonly<DoctorOptions> = Object.freeze({
  pids: [],
  ports: [],
  unixSockets: [],
  errorLogs: [],
  accessLogs: [],
  proxyLogs: [],
  nginxConfs: [],
  discoverProxy: true,
  appLogs: [],
  kernelLog: true,
  scanAll: true,
  intervalMs: 1000,
  fdWarningRatio: 0.8,
  fdCriticalRatio: 0.95,
  queueWarningRatio: 0.8,
  idleMs: 10_000,
  idleSocketsMin: 20,
  proxyIdleTimeoutMs: 0,
  minBacklog: 128,
  burst: 0,
  minSomaxconn: 1024,
  logCriticalLines: 10,
  bucketS: 60,
  probeTimeoutMs: 1000,
  maxLineChars: 16 * 1024,
});

/** Merges user options over {@link DOCTOR_DEFAULTS} and validates them (BG_BAD_OPTION naming the option). */
export function resolveDoctorOptions(user: Partial<DoctorOptions> = {}): DoctorOptions {
  const o: DoctorOptions = { ...DOCTOR_DEFAULTS, ...stripUndefined(user) };
  for (const pid of o.pids)
    if (!Number.isSafeInteger(pid) || pid <= 0) throw badOption('--pid', pid, 'a positive integer');
  for (const port of o.ports)
    if (!Number.isSafeInteger(port) || port < 1 || port > 65535)
      throw badOption('--port', port, 'a port from 1 to 65535');
  const ratio = (name: string, v: number): void => {
    if (!(v > 0 && v <= 1)) throw badOption(name, v, 'a ratio greater than 0 and at most 1');
  };
  ratio('fdWarningRatio', o.fdWarningRatio);
  ratio('fdCriticalRatio', o.fdCriticalRatio);
  ratio('queueWarningRatio', o.queueWarningRatio);
  const nonNegative = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v < 0) throw badOption(name, v, 'a number ≥ 0');
  };
  for (const key of [
    'intervalMs',
    'idleMs',
    'idleSocketsMin',
    'proxyIdleTimeoutMs',
    'burst',
    'minBacklog',
    'minSomaxconn',
    'logCriticalLines',
    'probeTimeoutMs',
  ] as const) {
    nonNegative(key, o[key]);
  }
  if (!(o.bucketS >= 1)) throw badOption('bucketS', o.bucketS, 'at least 1 second');
  if (!(o.maxLineChars >= 256)) throw badOption('maxLineChars', o.maxLineChars, 'at least 256');
  return o;
}
