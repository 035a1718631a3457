import { CAUSES, PROXY_LOG_PATTERNS, getCause, type CauseId } from '../causes/index.js';
import type { MixinConfig } from './config.js';
import { recordedNames, series, type RuleGroup } from './rules.js';

/** One Prometheus alerting rule as written to the rule file. */
export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

/** An alerting rule and what it is for: the key its `for:` is overridden by, the causes it stands for. */
export interface AlertDefinition {
  /** Stable key: `config.for[key]` overrides `for`. */
  key: string;
  /** Catalogue causes the rule watches (empty: a symptom of any cause). */
  causes: readonly CauseId[];
  rule: AlertingRule;
}

/**
 * Alert names for causes whose name is not simply `Badgateway` + the id in PascalCase: the two
 * accept-queue causes are one alert (its `cause` label says which).
 */
const ALERT_NAMES: Partial<Record<CauseId, string>> = {
  'backlog-overflow-unix': 'BadgatewayBacklogOverflow',
  'backlog-overflow-tcp': 'BadgatewayBacklogOverflow',
};

/** `BadgatewayFdExhaustion` for `fd-exhaustion`. */
export function alertNameOf(cause: CauseId): string {
  return (
    ALERT_NAMES[cause] ??
    `Badgateway${cause.replace(/(^|-)([a-z])/g, (_, _dash: string, ch: string) => ch.toUpperCase())}`
  );
}

// Go-template pieces of the annotations (Prometheus renders them when the alert fires).
const HOST = '{{ $labels.instance | reReplaceAll ":[0-9]+$" "" }}';
const TARGET = '{{ if $labels.target }}{{ $labels.target }}{{ else }}the app{{ end }}';
const WHERE = `${TARGET} on {{ $labels.instance }}`;
/** doctor's options for the alert's target: `--port 8080`, `--unix-socket /run/app.sock`, `--pid 42`; the guard's own port. */
const DOCTOR_TARGET =
  '{{ if $labels.target }}{{ $labels.target | reReplaceAll "^port ([0-9]+)$" "--port $1" | reReplaceAll "^unix:(.*)$" "--unix-socket $1" | reReplaceAll "^pid ([0-9]+).*$" "--pid $1" }}' +
  '{{ else }}--port {{ $labels.instance | reReplaceAll "^.*:([0-9]+)$" "$1" }}{{ end }}';
const INT = '{{ $value | printf "%.0f" }}';
const PERCENT = '{{ $value | humanizePercentage }}';

/**
 * The value of `metric` for the alert's job, instance, target (absent on the guard's series) and
 * `labels`, as an integer: the numbers behind a ratio.
 */
function valueOf(metric: string, labels: readonly string[] = []): string {
  const names = ['job', 'instance', 'target', ...labels];
  return `{{ with query (printf "${metric}{${names.map((l) => `${l}=%q`).join(',')}}" ${names.map((l) => `$labels.${l}`).join(' ')}) }}{{ . | first | value | printf "%.0f" }}{{ end }}`;
}

/**
 * Builds every alert definition from the config (live rules, then one pair per cause the error log names).
 * Long on purpose: the alert table as data, one entry per alert in the order the README lists them.
 */
export function createAlertDefinitions(c: MixinConfig): AlertDefinition[] {
  const n = recordedNames(c);
  const w = c.rateInterval;
  const runbook = (anchor: string): string => c.runbookUrlPattern.replace('%s', anchor);
  const define = (
    key: string,
    causes: readonly CauseId[],
    alert: string,
    severity: 'critical' | 'warning',
    forDefault: string,
    expr: string,
    text: { summary: string; description: string; anchor: string; labels?: Record<string, string> },
  ): AlertDefinition => ({
    key,
    causes,
    rule: {
      alert,
      expr,
      for: c.for[key] ?? forDefault,
      labels: { severity, ...text.labels },
      annotations: { summary: text.summary, description: text.description, runbook_url: runbook(text.anchor) },
    },
  });
  const fdSummary = `{{ $labels.instance }}: ${TARGET} has ${valueOf('badgateway_process_open_fds')} of ${valueOf('badgateway_process_max_fds')} file descriptors open (${PERCENT}).`;
  const fdDescription = `At the limit accept() fails with EMFILE: Node accepts and closes at once (the proxy logs a reset or a premature close, 502), Python servers stop accepting (504 after the proxy's read timeout). See what holds the fds: on ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\`.`;
  const idleSummary = `${INT} idle connections on {{ $labels.listener }} (${WHERE})`;
  const fdsHeld = `${valueOf('badgateway_process_open_fds')} of ${valueOf('badgateway_process_max_fds')} fds open`;
  const idleDescription = `A server without an idle keep-alive timeout keeps every idle client's socket, and fd, until the fd limit refuses new connections. On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\`.`;
  const queueSummary = `The accept queue of {{ $labels.listener }} (${WHERE}) is ${PERCENT} full: ${valueOf('badgateway_accept_queue_length', ['listener'])} waiting, backlog ${valueOf('badgateway_accept_backlog', ['listener'])}.`;
  const queueDescription = `A full queue refuses connections at once on a unix socket (EAGAIN, 502) and drops SYNs on TCP (504 after the proxy's connect timeout). On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\`.`;
  const shedSummary = `The guard on {{ $labels.instance }} answers ${PERCENT} of requests 503 (reason {{ $labels.reason }}).`;
  const shedDescription = `The guard sheds before the app fails, so the proxy passes clean 503s instead of 502/504s: the app is at its limit (fds, concurrency, event-loop delay or heap). On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\`.`;
  const badSummary = `{{ $labels.instance }}: ${PERCENT} of the proxy's responses are 502/504 (last ${w}).`;
  const badDescription = `On ${HOST} run \`badgateway doctor --access-log ${c.accessLog} --nginx-error-log ${c.nginxErrorLog}\` to name their cause.`;
  const defs: AlertDefinition[] = [
    define(
      'fdExhaustionWarning',
      ['fd-exhaustion'],
      alertNameOf('fd-exhaustion'),
      'warning',
      '15m',
      `${n.fdRatio} >= ${c.fdWarningRatio}`,
      {
        summary: fdSummary,
        description: fdDescription,
        anchor: 'fd-exhaustion',
        labels: { cause: 'fd-exhaustion', source: 'live' },
      },
    ),
    define(
      'fdExhaustionCritical',
      ['fd-exhaustion'],
      alertNameOf('fd-exhaustion'),
      'critical',
      '2m',
      `${n.fdRatio} >= ${c.fdCriticalRatio}`,
      {
        summary: fdSummary,
        description: fdDescription,
        anchor: 'fd-exhaustion',
        labels: { cause: 'fd-exhaustion', source: 'live' },
      },
    ),
    define(
      'keepaliveLeakWarning',
      ['keepalive-leak'],
      alertNameOf('keepalive-leak'),
      'warning',
      '15m',
      `${series(c, 'idleConnections')} >= ${c.idleConnections}`,
      {
        summary: `${idleSummary}.`,
        description: idleDescription,
        anchor: 'keepalive-leak',
        labels: { cause: 'keepalive-leak', source: 'live' },
      },
    ),
    define(
      'keepaliveLeakCritical',
      ['keepalive-leak'],
      alertNameOf('keepalive-leak'),
      'critical',
      '5m',
      `${series(c, 'idleConnections')} >= ${c.idleConnections} and on (job, instance, target) (${n.fdRatio} >= ${c.idleFdRatio})`,
      {
        summary: `${idleSummary}, with ${fdsHeld}.`,
        description: idleDescription,
        anchor: 'keepalive-leak',
        labels: { cause: 'keepalive-leak', source: 'live' },
      },
    ),
    define(
      'keepaliveLeakReaping',
      ['keepalive-leak'],
      alertNameOf('keepalive-leak'),
      'warning',
      '15m',
      `sum by (job, instance) (increase(${series(c, 'guardReapedConnectionsTotal')}[${w}])) > 0`,
      {
        summary: `The guard on {{ $labels.instance }} closed ${INT} idle keep-alive connections in the last ${w} to keep fds free.`,
        description: `Idle connections pile up to the fd limit; the guard reaps them, but a connection reaped as the proxy reuses it is a 502 (the keep-alive race). Give the server an idle timeout shorter than the clients'. On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\`.`,
        anchor: 'keepalive-leak',
        labels: { cause: 'keepalive-leak', source: 'guard' },
      },
    ),
    define(
      'backlogOverflowWarning',
      ['backlog-overflow-unix', 'backlog-overflow-tcp'],
      'BadgatewayBacklogOverflow',
      'warning',
      '5m',
      `${n.queueRatio} >= ${c.queueWarningRatio}`,
      {
        summary: queueSummary,
        description: queueDescription,
        anchor: 'backlog-overflow-{{ $labels.kind }}',
        labels: { cause: 'backlog-overflow-{{ $labels.kind }}', source: 'live' },
      },
    ),
    define(
      'backlogOverflowCritical',
      ['backlog-overflow-unix', 'backlog-overflow-tcp'],
      'BadgatewayBacklogOverflow',
      'critical',
      '1m',
      `${n.queueRatio} >= 1`,
      {
        summary: queueSummary,
        description: queueDescription,
        anchor: 'backlog-overflow-{{ $labels.kind }}',
        labels: { cause: 'backlog-overflow-{{ $labels.kind }}', source: 'live' },
      },
    ),
    define(
      'backlogOverflowTcpDrops',
      ['backlog-overflow-tcp'],
      'BadgatewayBacklogOverflow',
      'warning',
      '5m',
      `sum by (job, instance) (increase(${series(c, 'tcpListenOverflowsTotal')}[${w}])) > 0`,
      {
        summary: `The kernel of ${HOST} dropped ${INT} connections at full TCP accept queues in the last ${w} (TcpExt ListenOverflows).`,
        description: `Some listener's backlog is too small for its bursts (or somaxconn caps it). On ${HOST} run \`badgateway doctor\` (every listener) to find which.`,
        anchor: 'backlog-overflow-tcp',
        labels: { cause: 'backlog-overflow-tcp', source: 'kernel' },
      },
    ),
    define(
      'upstreamDownLive',
      ['upstream-down'],
      alertNameOf('upstream-down'),
      'critical',
      '1m',
      `${series(c, 'listenerUp')} == 0`,
      {
        summary: `Nothing listens on {{ $labels.target }} on ${HOST}.`,
        description: `The proxy gets connection refused or no such file: every request is a 502. On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\` (a stale socket file, a dead app, a wrong port).`,
        anchor: 'upstream-down',
        labels: { cause: 'upstream-down', source: 'live' },
      },
    ),
    define(
      'closeWaitLeakWarning',
      ['close-wait-leak'],
      alertNameOf('close-wait-leak'),
      'warning',
      '15m',
      `${series(c, 'connections', 'state="CLOSE_WAIT"')} >= ${c.idleConnections}`,
      {
        summary: `${INT} connections of {{ $labels.listener }} wait in CLOSE_WAIT on ${WHERE}.`,
        description: `The peer closed them and the app never did: each holds an fd until the process runs out (then every new connection fails: 502/504). On ${HOST} run \`badgateway doctor ${DOCTOR_TARGET}\` (what holds the fds).`,
        anchor: 'close-wait-leak',
        labels: { cause: 'close-wait-leak', source: 'live' },
      },
    ),
    // A worker death shows in no metric of its own: doctor names it from the app, kernel and proxy logs.
    define(
      'upstreamCrashFound',
      ['upstream-crash'],
      alertNameOf('upstream-crash'),
      'critical',
      '1m',
      `max by (job, instance) (${series(c, 'doctorFindings', 'cause="upstream-crash"')}) > 0`,
      {
        summary: `doctor on {{ $labels.instance }} sees app workers dying in the middle of requests (upstream-crash).`,
        description: `gunicorn WORKER TIMEOUT or SIGKILL, an OOM kill or an uncaught exception ended a worker with a request: the proxy answers 502. On ${HOST} run \`badgateway doctor --nginx-error-log ${c.nginxErrorLog} --app-log APP_LOG\`.`,
        anchor: 'upstream-crash',
        labels: { cause: 'upstream-crash', source: 'doctor' },
      },
    ),
    define(
      'guardSheddingWarning',
      [],
      'BadgatewayGuardShedding',
      'warning',
      '5m',
      `${n.shedRatio} >= ${c.shedWarningRatio}`,
      { summary: shedSummary, description: shedDescription, anchor: 'badgatewayguard', labels: { source: 'guard' } },
    ),
    define(
      'guardSheddingCritical',
      [],
      'BadgatewayGuardShedding',
      'critical',
      '5m',
      `${n.shedRatio} >= ${c.shedCriticalRatio}`,
      { summary: shedSummary, description: shedDescription, anchor: 'badgatewayguard', labels: { source: 'guard' } },
    ),
    define(
      'upstream5xxWarning',
      [],
      'BadgatewayUpstream5xx',
      'warning',
      '5m',
      `${n.badGatewayRatio} >= ${c.badGatewayWarningRatio}`,
      { summary: badSummary, description: badDescription, anchor: 'the-causes', labels: { source: 'access-log' } },
    ),
    define(
      'upstream5xxCritical',
      [],
      'BadgatewayUpstream5xx',
      'critical',
      '5m',
      `${n.badGatewayRatio} >= ${c.badGatewayCriticalRatio}`,
      { summary: badSummary, description: badDescription, anchor: 'the-causes', labels: { source: 'access-log' } },
    ),
  ];
  for (const cause of logCauses()) defs.push(...logAlerts(c, cause, define));
  return defs;
}

type Define = (
  key: string,
  causes: readonly CauseId[],
  alert: string,
  severity: 'critical' | 'warning',
  forDefault: string,
  expr: string,
  text: { summary: string; description: string; anchor: string; labels?: Record<string, string> },
) => AlertDefinition;

/** Causes that are the most likely cause of at least one error-log pattern, in catalogue order. */
export function logCauses(): CauseId[] {
  const primary = new Set(PROXY_LOG_PATTERNS.map((p) => p.causes[0]).filter((x): x is CauseId => x !== undefined));
  return CAUSES.map((cause) => cause.id).filter((id) => primary.has(id));
}

/** The warning (any line) and critical (`logCriticalLines` lines) alerts on the error-log lines of one cause. */
function logAlerts(c: MixinConfig, cause: CauseId, define: Define): AlertDefinition[] {
  const info = getCause(cause);
  const patterns = PROXY_LOG_PATTERNS.filter((p) => p.causes[0] === cause);
  const others = [...new Set(patterns.flatMap((p) => p.causes.slice(1)))];
  const statuses = [...new Set(patterns.map((p) => p.status).filter((s) => s !== null))].join('/') || 'no response';
  const expr = `sum by (job, instance, upstream) (increase(${series(c, 'proxyErrorLogLinesTotal', `cause="${cause}"`)}[${c.rateInterval}]))`;
  const key = cause.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
  const text = {
    summary: `${INT} error-log lines of ${cause} (${statuses}) for upstream {{ $labels.upstream }} on {{ $labels.instance }} in the last ${c.rateInterval}.`,
    description:
      `${info?.title ?? cause}. ${others.length > 0 ? `The same lines can also stand for ${others.join(', ')}: doctor on the upstream tells them apart. ` : ''}` +
      `On ${HOST} run \`badgateway doctor --nginx-error-log ${c.nginxErrorLog}\`.`,
    anchor: cause,
    labels: { cause, source: 'error-log' },
  };
  return [
    define(`${key}LogWarning`, [cause], alertNameOf(cause), 'warning', '1m', `${expr} > 0`, text),
    define(
      `${key}LogCritical`,
      [cause],
      alertNameOf(cause),
      'critical',
      '1m',
      `${expr} >= ${c.logCriticalLines}`,
      text,
    ),
  ];
}

/** The alerting rule groups of the mixin. */
export function createAlertGroups(c: MixinConfig): RuleGroup<AlertingRule>[] {
  return [{ name: 'badgateway.alerts', rules: createAlertDefinitions(c).map((d) => d.rule) }];
}

/** Which alerts watch each cause of the catalogue (a cause with none is a gap). */
export function alertCoverage(c: MixinConfig): Map<CauseId, string[]> {
  const coverage = new Map<CauseId, string[]>(CAUSES.map((cause) => [cause.id, []]));
  for (const d of createAlertDefinitions(c)) for (const cause of d.causes) coverage.get(cause)?.push(d.key);
  return coverage;
}
