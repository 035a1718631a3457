import type { CauseId } from '../catalogue.js';
import { GO_ERROR_KINDS } from './go-errors.js';
import { RECORDED_EXAMPLES } from './recorded.js';
import type { ProxySignal } from './types.js';

/** Documentation pages the signals come from (cited in each signal's `docs`). */
export const SIGNAL_DOCS = {
  haproxyStates: 'https://docs.haproxy.org/2.6/configuration.html#8.5',
  haproxyHttplog: 'https://docs.haproxy.org/2.6/configuration.html#8.2.3',
  haproxyChecks: 'https://docs.haproxy.org/2.6/configuration.html#5.2-check',
  caddyLogging: 'https://caddyserver.com/docs/json/apps/http/servers/logs/',
  caddyProxy: 'https://caddyserver.com/docs/caddyfile/directives/reverse_proxy',
  envoyFlags:
    'https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#config-access-log-format-response-flags',
  envoyDetails: 'https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/response_code_details',
  traefikAccess: 'https://doc.traefik.io/traefik/observability/access-logs/',
  traefikErrors: 'https://github.com/traefik/traefik/blob/v2.11/pkg/proxy/httputil/proxy.go',
  albAccess:
    'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax',
  albErrors:
    'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html#load-balancer-http-error-codes',
} as const;

/** A close or reset before the response: the readings of nginx's premature-close and recv-reset patterns. */
const UPSTREAM_FAILURE: readonly CauseId[] = [
  'keepalive-race',
  'upstream-crash',
  'fd-exhaustion',
  'keepalive-leak',
  'close-wait-leak',
];

/*
 * Documented example lines, built field by field from each format's documentation (SIGNAL_DOCS):
 * the values are made up, the layout and the flag or field that carries the cause are the
 * documented ones.
 */

/** Envoy's default format: `[START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS RX TX DURATION UPSTREAM_TIME "XFF" "UA" "ID" "AUTHORITY" "UPSTREAM_HOST"`. */
const envoyLine = (code: number, flags: string, upstream: string, ua = 'curl/8.5.0', duration = 2): string =>
  `[2026-11-30T21:50:28.310Z] "POST /api/orders HTTP/1.1" ${code} ${flags} 154 91 ${duration} - "10.0.35.28" "${ua}" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "orders.example" "${upstream}"`;

/** The ALB entry syntax with the fields that matter set, the rest as in AWS's example entry. */
const albLine = (
  target: string,
  times: string,
  elb: number,
  targetStatus: string,
  ua = 'curl/8.5.0',
  errorReason = '-',
): string =>
  `http 2026-11-30T21:50:28.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 ${target} ${times} ${elb} ${targetStatus} 34 366 ` +
  `"POST http://www.example.com:80/api/orders HTTP/1.1" "${ua}" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 ` +
  `"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-11-30T21:50:28.146000Z "forward" "-" "${errorReason}" "${target}" "${targetStatus}" "-" "-"`;

/** Traefik's JSON access log, the fields of its documentation. */
const traefikAccess = (origin: number, downstream: number, serviceAddr: string, ua = 'curl/8.5.0'): string =>
  JSON.stringify({
    ClientAddr: '10.0.0.5:52116',
    ClientHost: '10.0.0.5',
    ClientPort: '52116',
    ClientUsername: '-',
    DownstreamContentSize: 11,
    DownstreamStatus: downstream,
    Duration: 1523000,
    OriginContentSize: 0,
    OriginDuration: 1320000,
    OriginStatus: origin,
    Overhead: 203000,
    RequestAddr: 'orders.example',
    RequestContentSize: 0,
    RequestCount: 42,
    RequestHost: 'orders.example',
    RequestMethod: 'POST',
    RequestPath: '/api/orders',
    RequestPort: '-',
    RequestProtocol: 'HTTP/1.1',
    RequestScheme: 'http',
    RetryAttempts: 0,
    RouterName: 'orders@docker',
    ServiceAddr: serviceAddr,
    ServiceName: 'orders@docker',
    ServiceURL: serviceAddr === '' ? '' : `http://${serviceAddr}`,
    StartLocal: '2026-11-30T21:50:28.123456789Z',
    StartUTC: '2026-11-30T21:50:28.123456789Z',
    entryPointName: 'web',
    level: 'info',
    msg: '',
    'request_User-Agent': ua,
    time: '2026-11-30T21:50:28Z',
  });

/** A Go error text of each kind, as Caddy and Traefik log it. */
const GO_ERROR_TEXTS: Readonly<Record<string, string>> = {
  'dial-eagain': 'dial unix /run/app.sock: connect: resource temporarily unavailable',
  'dial-refused': 'dial tcp 172.18.0.3:8080: connect: connection refused',
  'dial-enoent': 'dial unix /run/app.sock: connect: no such file or directory',
  'dial-eacces': 'dial unix /run/app.sock: connect: permission denied',
  'dial-eaddrnotavail': 'dial tcp 172.18.0.3:8080: connect: cannot assign requested address',
  'proxy-emfile': 'dial tcp 172.18.0.3:8080: socket: too many open files',
  'dial-timeout': 'dial tcp 172.18.0.3:8080: i/o timeout',
  'write-timeout':
    'readfrom tcp 172.18.0.2:41000->172.18.0.3:8080: write tcp 172.18.0.2:41000->172.18.0.3:8080: i/o timeout',
  'header-timeout': 'net/http: timeout awaiting response headers',
  'no-upstreams': 'no upstreams available',
  'too-big-header': 'net/http: server response headers exceeded 1048576 bytes; aborted',
  reset: 'read tcp 172.18.0.2:41000->172.18.0.3:8080: read: connection reset by peer',
  eof: 'EOF',
};

/** Caddy's `http.log.error` line, field by field (https://caddyserver.com/docs/logging). */
const caddyErrorLine = (message: string, status: number): string =>
  JSON.stringify({
    level: 'error',
    ts: 1796075345.0134325,
    logger: 'http.log.error',
    msg: message,
    request: {
      remote_ip: '10.0.0.5',
      remote_port: '52116',
      proto: 'HTTP/1.1',
      method: 'POST',
      host: 'orders.example',
      uri: '/api/orders',
      headers: { 'User-Agent': ['curl/8.5.0'] },
    },
    duration: 0.000431579,
    status,
    err_id: 'f3y21x1n6',
    err_trace: 'reverseproxy.statusError (reverseproxy.go:1272)',
  });

/** Traefik v2's debug line for a failed forward (logfmt, its default log format). */
const traefikDebugLine = (status: number, message: string): string =>
  `time="2026-11-30T21:50:28Z" level=debug msg="'${status} ${status === 504 ? 'Gateway Timeout' : status === 503 ? 'Service Unavailable' : 'Bad Gateway'}' caused by: ${message}"`;

function goSignals(proxy: 'caddy' | 'traefik'): ProxySignal[] {
  return GO_ERROR_KINDS.map((k) => {
    const id = `${proxy}-${k.kind}`;
    // Traefik's balancer words it its own way (pkg/server/service/loadbalancer/wrr: errNoAvailableServer).
    const text = proxy === 'traefik' && k.kind === 'no-upstreams' ? 'no available server' : GO_ERROR_TEXTS[k.kind]!;
    const recorded = RECORDED_EXAMPLES[id];
    return {
      id,
      proxy,
      flag: `${proxy === 'caddy' ? 'msg' : 'caused by:'} "${k.flag}"`,
      status: proxy === 'traefik' ? (k.traefikStatus ?? k.status) : k.status,
      causes: k.causes,
      meaning: k.meaning,
      example: recorded ?? (proxy === 'caddy' ? caddyErrorLine(text, k.status) : traefikDebugLine(k.status, text)),
      source: recorded ? 'recorded' : 'documented',
      docs: proxy === 'caddy' ? SIGNAL_DOCS.caddyLogging : SIGNAL_DOCS.traefikErrors,
    };
  });
}

/** A HAProxy signal; its example is recorded when RECORDED_EXAMPLES has one. */
function haproxy(
  id: string,
  flag: string,
  status: ProxySignal['status'],
  causes: readonly CauseId[],
  meaning: string,
  documented: string,
  docs: string = SIGNAL_DOCS.haproxyStates,
): ProxySignal {
  const recorded = RECORDED_EXAMPLES[id];
  return {
    id,
    proxy: 'haproxy',
    flag,
    status,
    causes,
    meaning,
    example: recorded ?? documented,
    source: recorded ? 'recorded' : 'documented',
    docs,
  };
}

/** A documented httplog line with the given server, timers, status and termination state. */
const httplog = (server: string, timers: string, status: number, state: string): string =>
  `127.0.0.1:50412 [30/Nov/2026:21:50:28.123] badgateway ${server} ${timers} ${status} 217 - - ${state} 1/1/0/0/0 0/0 "GET / HTTP/1.1"`;

/** Every non-nginx signal doctor knows. */
export const PROXY_SIGNALS: readonly ProxySignal[] = [
  haproxy(
    'haproxy-SC',
    'SC--',
    503,
    ['upstream-down', 'backlog-overflow-unix', 'socket-permission'],
    'the server refused the connection or connect() failed at once (nothing listens, a full unix-socket queue, no permission): HAProxy answers 503, not 502',
    httplog('upstream/app', '0/0/-1/-1/0', 503, 'SC--'),
  ),
  haproxy(
    'haproxy-unix-backlog',
    'Connect() failed … check backlog size on the server',
    null,
    ['backlog-overflow-unix'],
    "HAProxy's own alert for a unix-socket connect() that failed with EAGAIN: the upstream's accept queue is full (the request's line says SC--, 503)",
    "Connect() failed for backend upstream: can't connect to destination unix socket, check backlog size on the server.",
  ),
  haproxy(
    'haproxy-sC',
    'sC--',
    503,
    ['backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak'],
    '`timeout connect` struck before the connection completed: SYNs dropped at a full accept queue (503)',
    httplog('upstream/app', '0/0/-1/-1/1001', 503, 'sC--'),
  ),
  haproxy(
    'haproxy-SH',
    'SH--',
    502,
    UPSTREAM_FAILURE,
    'the server closed or reset the connection before its full response headers (a reused connection it had closed, a server out of fds)',
    httplog('upstream/app', '0/0/0/-1/2', 502, 'SH--'),
  ),
  haproxy(
    'haproxy-sH',
    'sH--',
    504,
    ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp'],
    '`timeout server` struck before the server sent its response headers',
    httplog('upstream/app', '0/0/0/-1/1001', 504, 'sH--'),
  ),
  haproxy(
    'haproxy-SD',
    'SD--',
    null,
    [],
    'the server connection died in the data phase: the client got a truncated body',
    httplog('upstream/app', '0/0/0/1/3', 200, 'SD--'),
  ),
  haproxy(
    'haproxy-sD',
    'sD--',
    null,
    ['slow-upstream'],
    '`timeout server` struck in the data phase: the response stalled halfway',
    httplog('upstream/app', '0/0/0/1/1003', 200, 'sD--'),
  ),
  haproxy(
    'haproxy-sQ',
    'sQ--',
    503,
    ['slow-upstream'],
    'the request waited for a server slot (`maxconn`) longer than `timeout queue`: the upstream is too slow for the traffic',
    httplog('upstream/app', '0/1000/-1/-1/1000', 503, 'sQ--'),
  ),
  haproxy(
    'haproxy-PH',
    'PH--',
    502,
    ['too-big-header'],
    'HAProxy blocked an invalid or too big response header block (`tune.bufsize`)',
    httplog('upstream/app', '0/0/0/-1/2', 502, 'PH--'),
  ),
  haproxy(
    'haproxy-PC',
    'PC--',
    503,
    ['proxy-fd-exhaustion'],
    "HAProxy's own socket limit (`maxconn`, `ulimit-n`) was reached while connecting to the server",
    httplog('upstream/app', '0/0/-1/-1/0', 503, 'PC--'),
  ),
  haproxy(
    'haproxy-RC',
    'RC--',
    503,
    ['ephemeral-ports', 'proxy-fd-exhaustion'],
    'a local resource (source ports, sockets, memory) ran out while connecting to the server',
    httplog('upstream/app', '0/0/-1/-1/0', 503, 'RC--'),
  ),
  haproxy(
    'haproxy-no-server',
    '<NOSRV> SC--',
    503,
    ['no-live-upstreams'],
    'no server of the backend is up (health checks marked them all DOWN): 503 without trying',
    httplog('upstream/<NOSRV>', '0/-1/-1/-1/0', 503, 'SC--'),
  ),
  haproxy(
    'haproxy-server-down',
    'Server … is DOWN',
    null,
    ['no-live-upstreams'],
    'a health check marked a server DOWN; its `reason:` says why (Layer4 connection problem: refused; Layer4 timeout: no answer)',
    '<129>Nov 30 21:50:28 localhost haproxy[8540]: Server upstream/app is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    SIGNAL_DOCS.haproxyChecks,
  ),
  ...goSignals('caddy'),
  {
    id: 'caddy-body-abort',
    proxy: 'caddy',
    flag: 'msg "aborting with incomplete response"',
    status: null,
    causes: [],
    meaning: 'the upstream failed after the response had started: the client got a truncated body',
    example:
      RECORDED_EXAMPLES['caddy-body-abort'] ??
      JSON.stringify({
        level: 'error',
        ts: 1796075345.0134325,
        logger: 'http.handlers.reverse_proxy',
        msg: 'aborting with incomplete response',
        upstream: '172.18.0.3:8080',
        duration: 0.0021,
        request: { method: 'GET', uri: '/' },
        error: 'reading: unexpected EOF',
      }),
    source: RECORDED_EXAMPLES['caddy-body-abort'] ? 'recorded' : 'documented',
    docs: SIGNAL_DOCS.caddyProxy,
  },
  {
    id: 'caddy-body-too-large',
    proxy: 'caddy',
    flag: 'msg "… HTTP 413: http: request body too large"',
    status: 502,
    causes: [],
    meaning:
      "the request body exceeded `request_body max_size`: Caddy 2.6 answers 502, not 413 (seen with Caddy 2.6.2); the client's doing, no upstream's",
    example: caddyErrorLine(
      'readfrom tcp 127.0.0.1:57320->127.0.0.1:39261: {id=0t6ykv5cc} requestbody.errorWrapper.Read (requestbody.go:63): HTTP 413: http: request body too large',
      502,
    ),
    source: 'documented',
    docs: 'https://caddyserver.com/docs/caddyfile/directives/request_body',
  },
  {
    id: 'envoy-UH',
    proxy: 'envoy',
    flag: 'UH',
    status: 503,
    causes: ['no-live-upstreams'],
    meaning: 'no healthy upstream host in the cluster',
    example: envoyLine(503, 'UH', '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UF',
    proxy: 'envoy',
    flag: 'UF',
    status: 503,
    causes: [
      'upstream-down',
      'backlog-overflow-unix',
      'backlog-overflow-tcp',
      'socket-permission',
      'fd-exhaustion',
      'keepalive-leak',
      'ephemeral-ports',
    ],
    meaning:
      'upstream connection failure: refused, timed out, no socket or no local port (%UPSTREAM_TRANSPORT_FAILURE_REASON% says which)',
    example: envoyLine(503, 'UF', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UO',
    proxy: 'envoy',
    flag: 'UO',
    status: 503,
    causes: ['slow-upstream'],
    meaning:
      'upstream overflow: the circuit breaker (max connections / pending requests) is open, requests pile up on a slow upstream',
    example: envoyLine(503, 'UO', '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UC',
    proxy: 'envoy',
    flag: 'UC',
    status: 503,
    causes: UPSTREAM_FAILURE,
    meaning:
      "upstream connection termination: the upstream closed a pooled connection as Envoy reused it (app keep-alive timeout ≤ Envoy's idle_timeout)",
    example: envoyLine(503, 'UC', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UR',
    proxy: 'envoy',
    flag: 'UR',
    status: 503,
    causes: UPSTREAM_FAILURE,
    meaning: 'upstream remote reset before the response',
    example: envoyLine(503, 'UR', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UT',
    proxy: 'envoy',
    flag: 'UT',
    status: 504,
    causes: ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp'],
    meaning: 'upstream request timeout (route timeout, 15 s by default)',
    example: envoyLine(504, 'UT', '10.0.2.1:8080', 'curl/8.5.0', 15001),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-URX',
    proxy: 'envoy',
    flag: 'URX',
    status: 503,
    causes: ['upstream-down', 'keepalive-race'],
    meaning: 'the retry limit was reached: every try failed (the flag next to it says how)',
    example: envoyLine(503, 'URX', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UPE',
    proxy: 'envoy',
    flag: 'UPE',
    status: 502,
    causes: ['too-big-header'],
    meaning: 'the upstream response had an HTTP protocol error (invalid or oversized headers)',
    example: envoyLine(502, 'UPE', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-LR',
    proxy: 'envoy',
    flag: 'LR',
    status: 503,
    causes: [],
    meaning: 'connection local reset: Envoy itself reset the upstream connection',
    example: envoyLine(503, 'LR', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-OM',
    proxy: 'envoy',
    flag: 'OM',
    status: 503,
    causes: ['proxy-fd-exhaustion'],
    meaning: "Envoy's overload manager refused the request: the proxy itself is out of resources",
    example: envoyLine(503, 'OM', '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  {
    id: 'envoy-UMSDR',
    proxy: 'envoy',
    flag: 'UMSDR',
    status: 504,
    causes: ['slow-upstream'],
    meaning: 'the upstream request reached its max stream duration',
    example: envoyLine(504, 'UMSDR', '10.0.2.1:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.envoyFlags,
  },
  ...goSignals('traefik'),
  {
    id: 'traefik-502-no-response',
    proxy: 'traefik',
    flag: 'OriginStatus 0, DownstreamStatus 502',
    status: 502,
    causes: [
      'upstream-down',
      'keepalive-race',
      'backlog-overflow-unix',
      'upstream-crash',
      'fd-exhaustion',
      'keepalive-leak',
      'close-wait-leak',
    ],
    meaning:
      "the backend sent no response and Traefik answered 502: its debug log line (`'502 Bad Gateway' caused by:`) names the error",
    example: traefikAccess(0, 502, '172.18.0.3:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.traefikAccess,
  },
  {
    id: 'traefik-504-no-response',
    proxy: 'traefik',
    flag: 'OriginStatus 0, DownstreamStatus 504',
    status: 504,
    causes: ['slow-upstream', 'backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak'],
    meaning: 'the backend did not answer within responseHeaderTimeout (or the dial timeout): Traefik answered 504',
    example: traefikAccess(0, 504, '172.18.0.3:8080'),
    source: 'documented',
    docs: SIGNAL_DOCS.traefikAccess,
  },
  {
    id: 'traefik-no-server',
    proxy: 'traefik',
    flag: 'OriginStatus 0, DownstreamStatus 503, ServiceAddr ""',
    status: 503,
    causes: ['no-live-upstreams'],
    meaning: 'the service has no healthy server (health checks removed them all)',
    example: traefikAccess(0, 503, ''),
    source: 'documented',
    docs: SIGNAL_DOCS.traefikAccess,
  },
  {
    id: 'alb-502-target-closed',
    proxy: 'alb',
    flag: 'elb_status_code 502, target_status_code -, target_processing_time -1',
    status: 502,
    causes: ['keepalive-race', 'upstream-down', 'upstream-crash', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning:
      "the target closed or reset the connection with a request outstanding, or refused it: classically the app's keep-alive timeout (Node 5 s) below the ALB idle timeout (60 s)",
    example: albLine('10.0.0.1:3000', '0.001 -1 -1', 502, '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.albErrors,
  },
  {
    id: 'alb-502-bad-response',
    proxy: 'alb',
    flag: 'elb_status_code 502, target_processing_time ≥ 0',
    status: 502,
    causes: ['too-big-header'],
    meaning: 'the target answered, but with a malformed response or headers over 32 KB',
    example: albLine('10.0.0.1:3000', '0.001 0.004 -1', 502, '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.albErrors,
  },
  {
    id: 'alb-504-timeout',
    proxy: 'alb',
    flag: 'elb_status_code 504, target_status_code -, target_processing_time -1',
    status: 504,
    causes: ['slow-upstream', 'backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak'],
    meaning: 'the target did not answer within the idle timeout, or no connection within 10 s',
    example: albLine('10.0.0.1:3000', '0.000 -1 -1', 504, '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.albErrors,
  },
  {
    id: 'alb-503-no-target',
    proxy: 'alb',
    flag: 'elb_status_code 503, target -',
    status: 503,
    causes: ['no-live-upstreams'],
    meaning: 'the target group has no registered (or no healthy) target',
    example: albLine('-', '-1 -1 -1', 503, '-'),
    source: 'documented',
    docs: SIGNAL_DOCS.albErrors,
  },
];

/** Documented trap lines: known lines that are no proxy cause (client aborts, app-generated 5xx, health checks). */
export const TRAP_EXAMPLES = {
  haproxyClientAbort: httplog('upstream/app', '0/0/0/-1/212', 502, 'CH--'),
  envoyClientAbort: envoyLine(0, 'DC', '10.0.2.1:8080'),
  envoyAppError: `[2026-11-30T21:50:29.120Z] "POST /api/orders HTTP/1.1" 503 - via_upstream - "-" 312 95 4 3 "-" "node-fetch/1.0" "5b2e1c44-77aa-4a7e-9c1d-2b3c4d5e6f70" "orders.svc" "10.0.3.7:3000" outbound|3000||orders.default.svc.cluster.local 10.0.1.5:51234 10.0.3.7:3000 10.0.1.5:40000 - default`,
  envoyHealthCheck: envoyLine(503, '-', '10.0.2.1:8080', 'Envoy/HC', 1),
  albAppError: albLine('10.0.0.1:3000', '0.000 0.012 0.000', 502, '502'),
  albClientAbort: albLine('10.0.0.1:3000', '0.000 -1 -1', 460, '-'),
  traefikAppError: traefikAccess(502, 502, '172.18.0.3:8080'),
  traefikClientAbort: traefikAccess(0, 499, '172.18.0.3:8080'),
  traefikHealthCheck: traefikAccess(503, 503, '172.18.0.3:8080', 'kube-probe/1.29'),
} as const;

const BY_ID = new Map(PROXY_SIGNALS.map((s) => [s.id, s]));

/** The signal with that id; throws for an id no classifier should produce (a bug of ours). */
export function getSignal(id: string): ProxySignal {
  const s = BY_ID.get(id);
  if (!s) throw new Error(`no proxy signal ${id}`);
  return s;
}

/** The signal with that id, or undefined. */
export function findSignal(id: string): ProxySignal | undefined {
  return BY_ID.get(id);
}

/** No causes: a frozen empty list shared by every classification without one. */
export const NO_CAUSES: readonly CauseId[] = Object.freeze([]);

/** What an upstream error no signal knows is counted as (the same id as nginx's unknown lines). */
export const UNKNOWN_SIGNAL: Pick<ProxySignal, 'id' | 'causes' | 'status'> = {
  id: 'unknown-upstream-error',
  causes: NO_CAUSES,
  status: null,
};
