import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { MAX_LABEL_VALUES, METRICS, type MetricKey, type MetricSpec } from '../metrics/index.js';
import type { AccessLogSummary } from './access-log.js';
import type { TargetFacts } from './collectors.js';
import type { DoctorReport } from './diagnose.js';
import { listen } from '../util/index.js';
import type { ErrorLogSummary } from './error-log.js';

/** The facts of a {@link DoctorReport} as Prometheus metrics, in a registry of their own. */
export interface DoctorMetrics {
  readonly registry: Registry;
  /** Replaces every metric's values with the report's (label sets that went away are dropped). */
  update(report: DoctorReport): void;
}

/**
 * Creates the metrics of {@link METRICS} that doctor exports: the same names as the guard's for
 * the same facts (`badgateway_process_open_fds` …), listeners, the machine, the proxy's logs
 * (counters: in watch mode the logs are followed, so they only grow) and doctor's verdict.
 */
export function createDoctorMetrics(): DoctorMetrics {
  const registry = new Registry();
  const gauges = new Map<MetricKey, Gauge>();
  const counters = new Map<MetricKey, Counter>();
  for (const [key, spec] of Object.entries(METRICS) as [MetricKey, MetricSpec][]) {
    const labelNames = spec.labels.doctor;
    if (labelNames === undefined) continue;
    const config = { name: spec.name, help: spec.help, labelNames: [...labelNames], registers: [registry] };
    if (spec.type === 'counter') counters.set(key, new Counter(config));
    else gauges.set(key, new Gauge(config));
  }
  const set = (key: MetricKey, value: number, labels: Record<string, string> = {}): void =>
    gauges.get(key)!.set(labels, value);
  // Counters are set to the report's running totals: reset, then one inc by the total.
  const total = (key: MetricKey, value: number, labels: Record<string, string> = {}): void =>
    counters.get(key)!.inc(labels, value);
  return {
    registry,
    update(report) {
      registry.resetMetrics();
      set('doctorHealthy', report.verdict === 'healthy' ? 1 : 0);
      for (const f of report.findings) gauges.get('doctorFindings')!.inc({ cause: f.cause, severity: f.severity });
      for (const t of report.facts?.targets ?? []) updateTarget(t, set);
      const machine = report.facts?.machine;
      if (machine?.somaxconn !== null && machine?.somaxconn !== undefined) set('somaxconn', machine.somaxconn);
      if (machine?.netstat) {
        total('tcpListenOverflowsTotal', machine.netstat.listenOverflows.after);
        total('tcpListenDropsTotal', machine.netstat.listenDrops.after);
      }
      if (report.errorLog) updateErrorLog(report.errorLog, total);
      if (report.accessLog) updateAccessLog(report.accessLog, total);
      set('doctorSampleTimestampSeconds', Date.parse(report.generatedAt) / 1000);
    },
  };
}

type Setter = (key: MetricKey, value: number, labels?: Record<string, string>) => void;

function updateTarget(t: TargetFacts, set: Setter): void {
  const target = t.label;
  if (t.process) {
    set('processOpenFds', t.process.fds.open, { target });
    if (t.process.fds.soft !== null) set('processMaxFds', t.process.fds.soft, { target });
  }
  if (t.kind !== 'pid') set('listenerUp', t.missing === undefined && t.listeners.length > 0 ? 1 : 0, { target });
  for (const l of t.listeners) {
    const where = { target, listener: l.name };
    const kind = l.kind === 'unix' ? 'unix' : 'tcp';
    if (l.queue !== null) set('acceptQueueLength', l.queue, { ...where, kind });
    if (l.backlog !== null) set('acceptBacklog', l.backlog, { ...where, kind });
    for (const [state, count] of Object.entries(l.connections?.states ?? {}))
      set('connections', count, { ...where, state });
    const idle = l.connections?.idle ?? l.connections?.quiet?.count;
    if (idle !== undefined && idle !== null) set('idleConnections', idle, where);
  }
}

/**
 * Upstream names come from the log: past {@link MAX_LABEL_VALUES} distinct ones (the busiest
 * first) the rest are `other`, so no log can blow up the number of series.
 */
function keptUpstreams(entries: readonly { name: string; count: number }[]): Set<string> {
  const byCount = new Map<string, number>();
  for (const e of entries) byCount.set(e.name, (byCount.get(e.name) ?? 0) + e.count);
  return new Set(
    [...byCount.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_LABEL_VALUES)
      .map(([name]) => name),
  );
}

function updateErrorLog(log: ErrorLogSummary, total: Setter): void {
  const kept = keptUpstreams(log.patterns.flatMap((p) => p.upstreams));
  const sums = new Map<string, { labels: Record<string, string>; count: number }>();
  for (const p of log.patterns) {
    const base = {
      pattern: p.id,
      cause: p.causes[0] ?? 'unknown',
      status: p.status === null ? 'none' : String(p.status),
    };
    for (const u of p.upstreams) {
      const upstream = kept.has(u.name) ? u.name : 'other';
      const key = `${p.id}\0${upstream}`;
      const entry = sums.get(key) ?? { labels: { ...base, upstream }, count: 0 };
      entry.count += u.count;
      sums.set(key, entry);
    }
  }
  for (const { labels, count } of sums.values()) total('proxyErrorLogLinesTotal', count, labels);
}

function updateAccessLog(log: AccessLogSummary, total: Setter): void {
  for (const [status, count] of Object.entries(log.statuses)) total('proxyResponsesTotal', count, { status });
  const kept = keptUpstreams(log.upstreams.map((u) => ({ name: u.name, count: u.attempts })));
  const sums = new Map<string, number>();
  const add = (upstream: string, status: string, n: number): void => {
    const key = `${kept.has(upstream) ? upstream : 'other'}\0${status}`;
    sums.set(key, (sums.get(key) ?? 0) + n);
  };
  for (const u of log.upstreams) {
    add(u.name, '502', u.s502);
    add(u.name, '504', u.s504);
    add(u.name, 'other', u.attempts - u.s502 - u.s504);
  }
  for (const [key, count] of sums) {
    const [upstream, status] = key.split('\0') as [string, string];
    total('proxyUpstreamAttemptsTotal', count, { upstream, status });
  }
}

/** An HTTP server answering GET /metrics from a registry. */
export interface MetricsServer {
  readonly server: Server;
  /** `http://HOST:PORT/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `host:port` (port 0 = a free one). */
export async function startMetricsServer(
  registry: Registry,
  { port, host = '127.0.0.1' }: { port: number; host?: string },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await listen(server, { port, host });
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${actual}/metrics`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
