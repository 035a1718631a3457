import { getCause, type CauseId } from './catalogue.js';
import { PROXY_LOG_PATTERNS } from './patterns.js';
import { PROXY_SIGNALS } from './proxy-logs/signals.js';
import type { ProxyLogFormat } from './proxy-logs/types.js';

/** The proxies the catalogue has a view for: the log formats doctor reads. */
export type ProxyName = ProxyLogFormat;
export const PROXY_NAMES: readonly ProxyName[] = ['nginx', 'haproxy', 'caddy', 'envoy', 'traefik', 'alb'];

/** How one proxy shows one cause, and what to change on the proxy's side. */
export type ProxyView =
  | {
      /** What the client gets from this proxy. */
      readonly statuses: readonly (500 | 502 | 503 | 504)[];
      /** Ids of the nginx patterns (nginx) or proxy signals (the others) that give it away, most typical first. */
      readonly signals: readonly string[];
      /** The proxy-side fix or mitigation, in the proxy's own settings. */
      readonly fix: string;
    }
  | {
      /** Why the cause cannot happen behind this proxy (an ALB has no unix-socket targets…). */
      readonly na: string;
    };

type OtherViews = Readonly<Record<Exclude<ProxyName, 'nginx'>, ProxyView>>;

const NA_UNIX_ALB = { na: 'ALB targets are TCP (instances, IPs, Lambda): no unix sockets' } as const;
const NA_MANAGED_ALB = { na: 'the ALB is managed by AWS: its own fds and ports are not yours to exhaust' } as const;

/**
 * Per cause, how HAProxy, Caddy, Envoy, Traefik and an AWS ALB show it and the proxy-side fix. The
 * nginx view is the cause's own entry (statuses, `proxyLog`, first fix). The HAProxy and Caddy
 * statuses of the five lab causes are the ones the lab records behind the real proxies.
 */
const VIEWS: Partial<Readonly<Record<CauseId, OtherViews>>> = {
  'fd-exhaustion': {
    haproxy: {
      statuses: [502, 503, 504],
      signals: ['haproxy-SH', 'haproxy-sH', 'haproxy-sC'],
      fix: '`maxconn` on the `server` line caps the connections HAProxy opens to the app, the rest queue in HAProxy (`timeout queue`) instead of exhausting its fds',
    },
    caddy: {
      statuses: [502, 504],
      signals: ['caddy-reset', 'caddy-eof', 'caddy-header-timeout', 'caddy-dial-timeout'],
      fix: '`transport http { max_conns_per_host N }` caps the connections Caddy opens to the app',
    },
    envoy: {
      statuses: [503, 504],
      signals: ['envoy-UC', 'envoy-UR', 'envoy-UT', 'envoy-UF'],
      fix: "the cluster's circuit breaker (`max_connections`, `max_pending_requests`) caps what reaches the app; outlier detection ejects it while it recovers",
    },
    traefik: {
      statuses: [502, 504],
      signals: ['traefik-502-no-response', 'traefik-reset', 'traefik-eof', 'traefik-504-no-response'],
      fix: 'the `inFlightReq` middleware caps concurrent requests to the service',
    },
    alb: {
      statuses: [502, 504],
      signals: ['alb-502-target-closed', 'alb-504-timeout'],
      fix: 'nothing on the ALB caps per-target connections: fix the leak, raise the limit, shed with 503 in the app (badgateway/guard)',
    },
  },
  'keepalive-leak': {
    haproxy: {
      statuses: [504, 503, 502],
      signals: ['haproxy-sH', 'haproxy-sC', 'haproxy-SH'],
      fix: 'clients reach the app only through HAProxy, whose `timeout http-keep-alive` closes idle client connections; `pool-max-conn` bounds its own idle upstream ones',
    },
    caddy: {
      statuses: [502, 504],
      signals: ['caddy-eof', 'caddy-reset', 'caddy-header-timeout', 'caddy-dial-timeout'],
      fix: 'clients reach the app only through Caddy (its `idle_timeout` closes idle client connections); `keepalive_idle_conns_per_host` bounds its own',
    },
    envoy: {
      statuses: [504, 503],
      signals: ['envoy-UT', 'envoy-UF', 'envoy-UC'],
      fix: "clients reach the app only through Envoy; the cluster's `idle_timeout` closes its own idle upstream connections",
    },
    traefik: {
      statuses: [504, 502],
      signals: ['traefik-504-no-response', 'traefik-502-no-response'],
      fix: 'clients reach the app only through Traefik; `serversTransport.maxIdleConnsPerHost` bounds its own idle connections',
    },
    alb: {
      statuses: [504, 502],
      signals: ['alb-504-timeout', 'alb-502-target-closed'],
      fix: "the ALB keeps its idle connections to a target up to its idle timeout: the app still needs its own idle timeout (longer than the ALB's)",
    },
  },
  'backlog-overflow-unix': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-unix-backlog', 'haproxy-SC'],
      fix: "`maxconn` on the `server` line (the app's workers × 1): the burst waits in HAProxy's queue, not in the socket's backlog",
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-dial-eagain'],
      fix: "`transport http { max_conns_per_host N }` (N = the app's workers): the burst waits in Caddy",
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UF'],
      fix: "the cluster's circuit breaker `max_connections` = the app's workers, `max_pending_requests` for the burst",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-dial-eagain', 'traefik-502-no-response'],
      fix: "the `inFlightReq` middleware with `amount` = the app's workers",
    },
    alb: NA_UNIX_ALB,
  },
  'backlog-overflow-tcp': {
    haproxy: {
      statuses: [503, 504],
      signals: ['haproxy-sC', 'haproxy-sH'],
      fix: '`maxconn` on the `server` line: requests queue in HAProxy (`timeout queue`) instead of SYNs being dropped',
    },
    caddy: {
      statuses: [502, 504],
      signals: ['caddy-dial-timeout', 'caddy-header-timeout'],
      fix: '`transport http { max_conns_per_host N }`: the burst waits in Caddy',
    },
    envoy: {
      statuses: [503, 504],
      signals: ['envoy-UF', 'envoy-UT'],
      fix: "the circuit breaker's `max_connections` / `max_pending_requests`",
    },
    traefik: {
      statuses: [504],
      signals: ['traefik-504-no-response', 'traefik-dial-timeout'],
      fix: 'the `inFlightReq` middleware',
    },
    alb: {
      statuses: [504],
      signals: ['alb-504-timeout'],
      fix: 'the ALB connects within 10 s or answers 504: more targets (auto scaling), or a larger backlog on each',
    },
  },
  'keepalive-race': {
    haproxy: {
      statuses: [502],
      signals: ['haproxy-SH'],
      fix: "the app's keep-alive timeout above `pool-purge-delay`; `http-reuse safe` and `retry-on empty-response` for idempotent requests. HAProxy answers 502 (SH--) only to a client connection's first request: on a later one it closes the client's connection without a response or a log line, so that the client may retry (recorded)",
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-eof', 'caddy-reset'],
      fix: "`transport http { keepalive 4s }`: Caddy drops idle upstream connections before the app does (its default is 2 min, above Node's 5 s)",
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UC', 'envoy-UR', 'envoy-URX'],
      fix: "the cluster's `common_http_protocol_options.idle_timeout` below the app's keep-alive timeout (Envoy's default is 1 h), plus `retry_on: reset` for idempotent routes",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-eof', 'traefik-reset', 'traefik-502-no-response'],
      fix: "`serversTransport.forwardingTimeouts.idleConnTimeout` (90 s by default) below the app's keep-alive timeout",
    },
    alb: {
      statuses: [502],
      signals: ['alb-502-target-closed'],
      fix: "the app's keep-alive timeout above the ALB's idle timeout (60 s): Node's default 5 s is the classic race, `server.keepAliveTimeout = 65_000` and `headersTimeout` above it fix it",
    },
  },
  'close-wait-leak': {
    haproxy: {
      statuses: [502],
      signals: ['haproxy-SH'],
      fix: "nothing on HAProxy's side frees what the app never closes: fix the app (end its side on the peer's FIN); `timeout server` and `maxconn` bound how fast the pile grows",
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-reset', 'caddy-eof'],
      fix: "nothing on Caddy's side frees what the app never closes: fix the app; `transport http { max_conns_per_host N }` bounds how fast the pile grows",
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UC', 'envoy-UR'],
      fix: "fix the app; the circuit breaker's `max_connections` bounds how fast the pile grows",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-reset', 'traefik-eof', 'traefik-502-no-response'],
      fix: 'fix the app; the `inFlightReq` middleware bounds how fast the pile grows',
    },
    alb: {
      statuses: [502],
      signals: ['alb-502-target-closed'],
      fix: 'fix the app: the ALB closes idle connections after its idle timeout, and every one the app never closes stays in CLOSE_WAIT on the target',
    },
  },
  'upstream-crash': {
    haproxy: {
      statuses: [502],
      signals: ['haproxy-SH'],
      fix: '`retry-on empty-response conn-failure` for idempotent requests, `option redispatch`, and health checks (`check`) so a restarting worker pool is taken out; the fix is in the app (timeouts above the slowest request, memory limits)',
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-eof', 'caddy-reset'],
      fix: '`lb_try_duration` / `lb_retries` retry a request a dying worker dropped (idempotent ones); the fix is in the app',
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UC', 'envoy-UR'],
      fix: 'a `retry_policy` with `retry_on: reset,connect-failure` on idempotent routes; outlier detection ejects a crashing host; the fix is in the app',
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-eof', 'traefik-reset', 'traefik-502-no-response'],
      fix: 'the `retry` middleware (idempotent requests) and a health check; the fix is in the app',
    },
    alb: {
      statuses: [502],
      signals: ['alb-502-target-closed'],
      fix: "the target group's health check takes a crashing target out; the fix is in the app (a worker must never die mid-request)",
    },
  },
  'slow-upstream': {
    haproxy: {
      statuses: [504],
      signals: ['haproxy-sH', 'haproxy-sD', 'haproxy-sQ'],
      fix: '`timeout server` above the slowest legitimate answer (and the app gives up first)',
    },
    caddy: {
      statuses: [504],
      signals: ['caddy-header-timeout', 'caddy-write-timeout'],
      fix: '`transport http { response_header_timeout … }` above the slowest legitimate answer',
    },
    envoy: {
      statuses: [504],
      signals: ['envoy-UT', 'envoy-UMSDR', 'envoy-UO'],
      fix: "the route's `timeout` (15 s by default) above the slowest legitimate answer",
    },
    traefik: {
      statuses: [504],
      signals: ['traefik-504-no-response', 'traefik-header-timeout'],
      fix: '`serversTransport.forwardingTimeouts.responseHeaderTimeout` above the slowest legitimate answer',
    },
    alb: {
      statuses: [504],
      signals: ['alb-504-timeout'],
      fix: "the load balancer's idle timeout (60 s by default) above the slowest legitimate answer",
    },
  },
  'upstream-down': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-SC'],
      fix: 'health checks (`check` on the `server` line) take a dead server out; `option redispatch` tries another',
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-dial-refused', 'caddy-dial-enoent'],
      fix: 'active health checks (`health_uri`) and `lb_try_duration` with several upstreams',
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UF', 'envoy-URX'],
      fix: 'active health checks and outlier detection on the cluster',
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-dial-refused', 'traefik-502-no-response'],
      fix: "a `healthCheck` on the service's load balancer",
    },
    alb: {
      statuses: [502],
      signals: ['alb-502-target-closed'],
      fix: "the target group's health check (a target that refuses connections is marked unhealthy)",
    },
  },
  'socket-permission': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-SC'],
      fix: "HAProxy's `user`/`group` (global) with write access to the socket file",
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-dial-eacces'],
      fix: 'run Caddy (systemd `User=`/`Group=`) in a group that may write to the socket file',
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UF'],
      fix: "run Envoy's user in a group that may write to the socket file (`pipe` address)",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-dial-eacces'],
      fix: "run Traefik's user in a group that may write to the socket file",
    },
    alb: NA_UNIX_ALB,
  },
  'proxy-fd-exhaustion': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-PC', 'haproxy-RC'],
      fix: 'global `maxconn` (HAProxy derives `ulimit-n` from it) with the system limit above it',
    },
    caddy: { statuses: [502], signals: ['caddy-proxy-emfile'], fix: "raise Caddy's fd limit (systemd `LimitNOFILE=`)" },
    envoy: {
      statuses: [503],
      signals: ['envoy-OM'],
      fix: "the overload manager's limits and Envoy's fd limit (`LimitNOFILE=`)",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-proxy-emfile'],
      fix: "raise Traefik's fd limit (`LimitNOFILE=`, `--ulimit nofile=`)",
    },
    alb: NA_MANAGED_ALB,
  },
  'ephemeral-ports': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-RC'],
      fix: '`http-reuse always` with `pool-max-conn`, or several `source` addresses',
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-dial-eaddrnotavail'],
      fix: 'keep-alive to the upstream (on by default: check `keepalive off` is not set)',
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UF'],
      fix: "connection pooling (on by default); widen the host's `ip_local_port_range`",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-dial-eaddrnotavail'],
      fix: '`serversTransport.maxIdleConnsPerHost` above the concurrency (Go keeps only 2 idle connections per host by default)',
    },
    alb: NA_MANAGED_ALB,
  },
  'no-live-upstreams': {
    haproxy: {
      statuses: [503],
      signals: ['haproxy-no-server', 'haproxy-server-down'],
      fix: "fix what the health check's `reason:` names; `option redispatch` and more servers",
    },
    caddy: {
      statuses: [503],
      signals: ['caddy-no-upstreams'],
      fix: 'fix what marked every upstream down (passive `fail_duration`, active health checks)',
    },
    envoy: {
      statuses: [503],
      signals: ['envoy-UH'],
      fix: 'fix what outlier detection or health checks ejected; `max_ejection_percent` below 100',
    },
    traefik: {
      statuses: [503],
      signals: ['traefik-no-server', 'traefik-no-upstreams'],
      fix: 'fix what the health check reports for every server of the service',
    },
    alb: {
      statuses: [503],
      signals: ['alb-503-no-target'],
      fix: 'register targets and fix what their health checks report',
    },
  },
  'too-big-header': {
    haproxy: {
      statuses: [502],
      signals: ['haproxy-PH'],
      fix: '`tune.bufsize` (and `tune.maxrewrite`) above the response header block',
    },
    caddy: {
      statuses: [502],
      signals: ['caddy-too-big-header'],
      fix: '`transport http { max_response_header_size … }`',
    },
    envoy: {
      statuses: [502],
      signals: ['envoy-UPE'],
      fix: "the cluster's `max_response_headers_kb` / `max_headers_count`",
    },
    traefik: {
      statuses: [502],
      signals: ['traefik-too-big-header'],
      fix: 'smaller response headers (Go refuses more than 1 MB)',
    },
    alb: {
      statuses: [502],
      signals: ['alb-502-bad-response'],
      fix: 'keep the response header block under 32 KB (the ALB limit)',
    },
  },
};

/** The view of `cause` behind `proxy`; undefined for a cause that has none yet. */
export function getProxyView(cause: CauseId, proxy: ProxyName): ProxyView | undefined {
  if (proxy === 'nginx') {
    const c = getCause(cause);
    if (!c) return undefined;
    return { statuses: c.statuses, signals: c.proxyLog, fix: c.fix[0] ?? '' };
  }
  return VIEWS[cause]?.[proxy];
}

/** What one signal or nginx pattern id stands for: the flag to show, its status and an example. */
export function describeSignal(id: string): { flag: string; status: number | null; example: string } | undefined {
  const pattern = PROXY_LOG_PATTERNS.find((p) => p.id === id);
  if (pattern)
    return {
      flag: pattern.example.replace(/^.*?\[\w+\] \d+#\d+: (?:\*\d+ )?/, '').replace(/, client: .*$/, ''),
      status: pattern.status,
      example: pattern.example,
    };
  const signal = PROXY_SIGNALS.find((s) => s.id === id);
  return signal ? { flag: signal.flag, status: signal.status, example: signal.example } : undefined;
}

/** The causes that have views for every proxy (a test keeps this equal to the catalogue). */
export function causesWithViews(): CauseId[] {
  return Object.keys(VIEWS) as CauseId[];
}
