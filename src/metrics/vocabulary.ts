/**
 * The one vocabulary of badgateway's Prometheus metrics. The guard (inside an app) and `doctor
 * --prometheus` (outside it) export the same fact under the same name, so one recording rule,
 * one alert and one dashboard panel serve both. Names follow Prometheus conventions: base units
 * (`_seconds`, `_bytes`), ratios 0–1 (`_ratio`), `_total` on counters, and labels with a bounded
 * set of values (no request paths, no client addresses, no pids).
 *
 * The guard imports this file (constants only), so it stays light.
 */

/** Who exports a metric. */
export type MetricSource = 'guard' | 'doctor';

export interface MetricSpec {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  /** Labels per source that exports it (a source absent here does not export it). */
  readonly labels: Partial<Record<MetricSource, readonly string[]>>;
}

const spec = (name: string, type: MetricSpec['type'], help: string, labels: MetricSpec['labels']): MetricSpec =>
  Object.freeze({ name, type, help, labels });

/** Every metric, by a short key. */
export const METRICS = Object.freeze({
  // The process: the same fact from the guard (its own process) and doctor (each inspected one).
  processOpenFds: spec('badgateway_process_open_fds', 'gauge', 'Open file descriptors of the process.', {
    guard: [],
    doctor: ['target'],
  }),
  processMaxFds: spec(
    'badgateway_process_max_fds',
    'gauge',
    'Soft RLIMIT_NOFILE of the process (absent when unlimited).',
    { guard: [], doctor: ['target'] },
  ),

  // The guard's own decisions and view.
  guardInflightRequests: spec(
    'badgateway_guard_inflight_requests',
    'gauge',
    'Requests admitted by the guard and not answered yet.',
    { guard: [] },
  ),
  guardEventLoopDelaySeconds: spec(
    'badgateway_guard_event_loop_delay_seconds',
    'gauge',
    'Largest event-loop delay of the last sample window.',
    { guard: [] },
  ),
  guardHeapUsedRatio: spec('badgateway_guard_heap_used_ratio', 'gauge', 'V8 heap used / heap size limit (0-1).', {
    guard: [],
  }),
  guardRequestsShedTotal: spec(
    'badgateway_guard_requests_shed_total',
    'counter',
    'Requests answered 503 + Retry-After by the guard, by reason.',
    { guard: ['reason'] },
  ),
  guardRequestsAdmittedTotal: spec(
    'badgateway_guard_requests_admitted_total',
    'counter',
    'Requests the guard let through to the app.',
    { guard: [] },
  ),
  guardReapedConnectionsTotal: spec(
    'badgateway_guard_reaped_connections_total',
    'counter',
    'Idle keep-alive connections closed by the guard under fd pressure.',
    { guard: [] },
  ),
  guardConnectionsOpen: spec(
    'badgateway_guard_connections_open',
    'gauge',
    'Connections of the servers the guard is attached to.',
    { guard: [] },
  ),
  guardConnectionsIdle: spec(
    'badgateway_guard_connections_idle',
    'gauge',
    'Of those, with no request in progress (kept alive between requests, or not sent one yet).',
    { guard: [] },
  ),

  // Listeners, seen from outside by doctor (ss / /proc/net).
  listenerUp: spec(
    'badgateway_listener_up',
    'gauge',
    '1 when something listens on the inspected port or unix socket, 0 when nothing does (stale or missing socket file, no listener).',
    { doctor: ['target'] },
  ),
  acceptQueueLength: spec(
    'badgateway_accept_queue_length',
    'gauge',
    'Connections waiting in the accept queue of a listener (ss Recv-Q).',
    { doctor: ['target', 'listener', 'kind'] },
  ),
  acceptBacklog: spec(
    'badgateway_accept_backlog',
    'gauge',
    'Accept queue limit of a listener: listen() backlog capped by somaxconn (ss Send-Q).',
    { doctor: ['target', 'listener', 'kind'] },
  ),
  connections: spec(
    'badgateway_connections',
    'gauge',
    'Connections of a listener by TCP state (unix sockets: ESTABLISHED = accepted, CLOSE = accepted and left by the peer).',
    { doctor: ['target', 'listener', 'state'] },
  ),
  idleConnections: spec(
    'badgateway_idle_connections',
    'gauge',
    'ESTABLISHED connections of a listener with no traffic for doctor --idle (10 s); unix: quiet at two samples.',
    { doctor: ['target', 'listener'] },
  ),

  // The machine.
  somaxconn: spec('badgateway_somaxconn', 'gauge', 'net.core.somaxconn: the cap on every listen() backlog.', {
    doctor: [],
  }),
  tcpListenOverflowsTotal: spec(
    'badgateway_tcp_listen_overflows_total',
    'counter',
    'TcpExt ListenOverflows: SYNs dropped because an accept queue was full (since boot).',
    { doctor: [] },
  ),
  tcpListenDropsTotal: spec(
    'badgateway_tcp_listen_drops_total',
    'counter',
    'TcpExt ListenDrops: connections dropped at listen (since boot).',
    { doctor: [] },
  ),

  // The proxy's logs, read (and followed) by doctor.
  proxyErrorLogLinesTotal: spec(
    'badgateway_proxy_error_log_lines_total',
    'counter',
    "Classified upstream error lines of the proxy's error log, by pattern, its most likely cause, the client's status (none: no response) and upstream.",
    { doctor: ['pattern', 'cause', 'status', 'upstream'] },
  ),
  proxyResponsesTotal: spec(
    'badgateway_proxy_responses_total',
    'counter',
    "Responses in the proxy's access log by the status the client got.",
    { doctor: ['status'] },
  ),
  proxyUpstreamAttemptsTotal: spec(
    'badgateway_proxy_upstream_attempts_total',
    'counter',
    "Attempts against an upstream in the proxy's access log, by the upstream's status (502, 504, other).",
    { doctor: ['upstream', 'status'] },
  ),

  // doctor itself.
  doctorHealthy: spec('badgateway_doctor_healthy', 'gauge', '1 when doctor has no finding, 0 otherwise.', {
    doctor: [],
  }),
  doctorFindings: spec('badgateway_doctor_findings', 'gauge', 'Findings of the last sample by cause id and severity.', {
    doctor: ['cause', 'severity'],
  }),
  doctorSampleTimestampSeconds: spec(
    'badgateway_doctor_sample_timestamp_seconds',
    'gauge',
    'When doctor last sampled the facts (unix time).',
    { doctor: [] },
  ),
} as const);

export type MetricKey = keyof typeof METRICS;

/** Metrics a source exports. */
export function metricsOf(source: MetricSource): MetricSpec[] {
  return Object.values(METRICS).filter((m) => m.labels[source] !== undefined);
}

/**
 * Most distinct values kept for a label that comes from data (an upstream name in a log): the
 * rest are exported as `other`, so a log can never blow up a Prometheus server's series count.
 */
export const MAX_LABEL_VALUES = 50;

/** The vocabulary as a Markdown table (README's metrics section; a test keeps them equal). */
export function renderMetricsMarkdown(): string {
  const rows = Object.values(METRICS).map((m) => {
    const from = (['guard', 'doctor'] as const)
      .filter((s) => m.labels[s] !== undefined)
      .map((s) => `${s}${m.labels[s]!.length > 0 ? ` {${m.labels[s]!.join(', ')}}` : ''}`)
      .join(', ');
    return `| \`${m.name}\` | ${m.type} | ${from} | ${m.help} |`;
  });
  return ['| metric | type | exported by {labels} | what it is |', '|---|---|---|---|', ...rows, ''].join('\n');
}
