import type { ProxyLogFormat } from '../causes/index.js';
import { runDoctor } from '../doctor/index.js';
import type { PhaseResult } from './types.js';

/**
 * Runs `badgateway doctor` on a phase's upstream (pid, listener) and the proxy's error log, as an
 * engineer would during the incident, and keeps what it named. Never throws: a doctor that cannot
 * inspect is recorded as such.
 */
export async function diagnosePhase(input: {
  pid: number | null;
  target: { port: number } | { unixSocket: string };
  errorLogPath: string;
  /** The format of the proxy's log (nginx's error log unless said otherwise). */
  logFormat?: ProxyLogFormat;
  /** The proxy's nginx.conf (for the built-in proxy: the nginx config of the same options). */
  nginxConf?: string;
  /** The app server's log (its stderr), when it writes one. */
  appLog?: string;
}): Promise<PhaseResult['doctor']> {
  try {
    const report = await runDoctor({
      // The lab knows its proxy: no nginx -T of whatever else runs on this machine.
      discoverProxy: false,
      nginxConfs: input.nginxConf ? [input.nginxConf] : [],
      appLogs: input.appLog ? [input.appLog] : [],
      pids: input.pid === null ? [] : [input.pid],
      ports: 'port' in input.target ? [input.target.port] : [],
      unixSockets: 'unixSocket' in input.target ? [input.target.unixSocket] : [],
      ...(input.logFormat === undefined || input.logFormat === 'nginx'
        ? { errorLogs: [input.errorLogPath] }
        : { proxyLogs: [{ file: input.errorLogPath, format: input.logFormat }] }),
      scanAll: false,
      // Unix connections have no idle timers: doctor looks twice, 500 ms apart, for ones that stay
      // quiet. TCP has timers; one sample keeps other processes' ListenOverflows out of the column.
      intervalMs: 'unixSocket' in input.target ? 500 : 0,
      // The lab's phases last seconds, not the hours of an incident: an idle client is idle after 500 ms.
      idleMs: 500,
    });
    const findings = report.findings.map((f) => ({ cause: f.cause, severity: f.severity, summary: f.summary }));
    return { causes: [...new Set(findings.map((f) => f.cause))], findings };
  } catch (err) {
    return { causes: [], findings: [], error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}
