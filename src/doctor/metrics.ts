import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { DoctorReport } from './diagnose.js';

/** The facts of a {@link DoctorReport} as Prometheus gauges, in a registry of their own. */
export interface DoctorMetrics {
  readonly registry: Registry;
  /** Replaces every gauge's values with the report's (label sets that went away are dropped). */
  update(report: DoctorReport): void;
}

/** Creates the gauges (prefix `badgateway_doctor_`). */
export function createDoctorMetrics(): DoctorMetrics {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge =>
    new Gauge({ name: `badgateway_doctor_${name}`, help, labelNames, registers: [registry] });
  const healthy = gauge('healthy', '1 when doctor has no finding, 0 otherwise');
  const findings = gauge('findings', 'Findings by cause id and severity (count)', ['cause', 'severity']);
  const fdsOpen = gauge('fds_open', 'Open file descriptors of an inspected process', ['target', 'pid']);
  const fdsLimit = gauge('fds_limit', 'Soft RLIMIT_NOFILE of an inspected process (absent when unlimited)', ['target', 'pid']);
  const queue = gauge('accept_queue', 'Connections waiting in the accept queue of a listener', ['listener']);
  const backlog = gauge('accept_backlog', 'Accept queue limit (backlog capped by somaxconn) of a listener', ['listener']);
  const idle = gauge('idle_connections', 'ESTABLISHED connections idle at least --idle on a listener (unix: quiet at two samples)', ['listener']);
  const somaxconn = gauge('somaxconn', 'net.core.somaxconn');
  const overflows = gauge('tcp_listen_overflows', 'TcpExt ListenOverflows (kernel counter, since boot)');
  const drops = gauge('tcp_listen_drops', 'TcpExt ListenDrops (kernel counter, since boot)');
  const logLines = gauge('error_log_lines', 'Classified proxy error-log lines by pattern and client status', ['pattern', 'status']);
  const access = gauge('access_log_responses', 'Access-log responses by client status (502/504)', ['status']);
  const sampled = gauge('sample_timestamp_seconds', 'When the facts were sampled (unix time)');
  const all = [healthy, findings, fdsOpen, fdsLimit, queue, backlog, idle, somaxconn, overflows, drops, logLines, access, sampled];
  return {
    registry,
    update(report) {
      for (const g of all) g.reset();
      healthy.set(report.verdict === 'healthy' ? 1 : 0);
      for (const f of report.findings) findings.inc({ cause: f.cause, severity: f.severity });
      for (const t of report.facts?.targets ?? []) {
        if (t.process) {
          const labels = { target: t.label, pid: String(t.process.pid) };
          fdsOpen.set(labels, t.process.fds.open);
          if (t.process.fds.soft !== null) fdsLimit.set(labels, t.process.fds.soft);
        }
        for (const l of t.listeners) {
          if (l.queue !== null) queue.set({ listener: l.name }, l.queue);
          if (l.backlog !== null) backlog.set({ listener: l.name }, l.backlog);
          const idleCount = l.connections?.idle ?? l.connections?.quiet?.count;
          if (idleCount !== undefined) idle.set({ listener: l.name }, idleCount);
        }
      }
      const machine = report.facts?.machine;
      if (machine?.somaxconn !== null && machine?.somaxconn !== undefined) somaxconn.set(machine.somaxconn);
      if (machine?.netstat) {
        overflows.set(machine.netstat.listenOverflows.after);
        drops.set(machine.netstat.listenDrops.after);
      }
      for (const p of report.errorLog?.patterns ?? []) logLines.set({ pattern: p.id, status: p.status === null ? 'none' : String(p.status) }, p.count);
      if (report.accessLog) {
        access.set({ status: '502' }, report.accessLog.s502);
        access.set({ status: '504' }, report.accessLog.s504);
      }
      sampled.set(Date.parse(report.generatedAt) / 1000);
    },
  };
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
export async function startMetricsServer(registry: Registry, { port, host = '127.0.0.1' }: { port: number; host?: string }): Promise<MetricsServer> {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
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
