import type { AccessLogSummary } from './access-log.js';
import type { DoctorFacts, TargetFacts } from './collectors.js';
import type { DoctorReport } from './diagnose.js';
import type { ErrorLogSummary } from './error-log.js';
import type { Finding } from './findings.js';
import type { FdHolders } from './holders.js';
import type { ProxyConfig } from './proxy-context.js';

const pct = (r: number): string => `${Math.round(r * 100)}%`;

/**
 * Control characters (C0 but newline, DEL, C1 such as the one-byte CSI 0x9B) and the Unicode
 * bidirectional overrides, which a crafted log line could use to recolour, retitle or reorder the
 * terminal: ESC, OSC … BEL, or text that reads backwards.
 */
const TERMINAL_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text for a terminal: every unsafe character (see above) shown as `\xHH` / `\u{HHHH}`, as nginx
 * escapes its logs. The report quotes log lines and upstream names a client or a log file chose;
 * `--json` escapes them by itself.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
      : `\\u{${code.toString(16).toUpperCase()}}`;
  });
}

/** One finding as text: cause, where, what was seen, evidence, fix, confirm (not yet escaped for a terminal). */
export function renderFinding(f: Finding): string[] {
  const out = [
    `${f.severity.toUpperCase().padEnd(8)}  ${f.cause} — ${f.title}`,
    `  where:  ${f.target}`,
    `  seen:   ${f.summary}`,
    '  evidence:',
  ];
  // Evidence lines starting with two spaces continue the previous one (an example log line).
  for (const e of f.evidence) out.push(`    ${e.startsWith('  ') ? `  ${e.trimStart()}` : `- ${e}`}`);
  out.push('  fix:', ...f.fix.map((x) => `    - ${x}`), '  confirm:', ...f.confirm.map((c) => `    $ ${c}`));
  return out;
}

function renderTarget(t: TargetFacts): string[] {
  const out: string[] = [];
  const p = t.process;
  const head = p
    ? `${t.label}: fds ${p.fds.open}/${p.fds.soft ?? 'unlimited'}${p.fds.soft ? ` (${pct(p.fds.ratio)})` : ''} — ${Object.entries(
        p.fds.byKind,
      )
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`
    : `${t.label}${t.missing ? `: ${t.missing.replace(/-/g, ' ')}` : ''}`;
  out.push(`  ${head}${t.fromConfig ? ` (upstream ${t.fromConfig} of the proxy config)` : ''}`);
  if (p?.holders) out.push(`    held by: ${holdersLine(p.holders)}`);
  for (const l of t.listeners) {
    let line = `    ${l.name}  queue ${l.queue ?? '?'}/${l.backlog ?? '?'}`;
    if (l.connections) {
      const states = Object.entries(l.connections.states)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ');
      line += `  connections: ${states || 'none'}`;
      if (l.connections.idle !== null) line += `; idle ≥ ${l.connections.idleMs / 1000} s: ${l.connections.idle}`;
      else if (l.connections.quiet)
        line += `; quiet at two samples ${l.connections.quiet.gapMs} ms apart: ${l.connections.quiet.count}`;
    }
    if (l.proxyPool)
      line += `  proxy pool: keepalive ${l.proxyPool.keepalive}, ${l.proxyPool.keepaliveTimeoutMs / 1000} s`;
    for (const a of l.proxyAccess ?? [])
      line += `  ${a.identity.user ?? `uid ${a.identity.uid}`}: ${a.access.allowed ? 'may connect' : 'DENIED'}`;
    if (l.keepAlive)
      line += `  keep-alive: ${l.keepAlive.keepAliveTimeoutS === null ? (l.keepAlive.error ?? 'no timeout announced') : `timeout=${l.keepAlive.keepAliveTimeoutS}`}`;
    out.push(line);
  }
  return out;
}

function holdersLine(h: FdHolders): string {
  const tcp = Object.entries(h.sockets.tcp)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const parts = [
    tcp ? `TCP ${tcp} (quiet ${h.sockets.tcpQuiet})` : '',
    h.sockets.unixConnected + h.sockets.unixListen > 0
      ? `unix connected ${h.sockets.unixConnected} (quiet ${h.sockets.unixQuiet ?? '?'}), listening ${h.sockets.unixListen}`
      : '',
    h.files.length > 0
      ? `files ${h.files
          .slice(0, 3)
          .map((f) => `${f.name} × ${f.count}`)
          .join(', ')}${h.distinctFiles > 3 ? ', …' : ''}`
      : '',
    h.pipes > 0 ? `pipes ${h.pipes}` : '',
  ].filter(Boolean);
  return parts.join('; ') || 'nothing';
}

function renderProxyConfig(c: ProxyConfig): string[] {
  const ms = (v: number): string => `${+(v / 1000).toFixed(3)} s`;
  const out = [
    `  ${c.source}: user ${c.workerIdentity ? `${c.workerIdentity.user ?? c.workerIdentity.uid} (${c.workerIdentity.from})` : (c.user?.user ?? '?')}, worker_connections ${c.workerConnections}, worker_rlimit_nofile ${c.workerRlimitNofile ?? '-'}`,
  ];
  for (const u of c.upstreams) {
    out.push(
      `    upstream ${u.name}: ${u.servers.map((x) => x.address).join(', ') || '(no server)'}; keepalive ${u.keepalive > 0 ? `${u.keepalive}${u.poolEffective ? '' : ' (unused: needs proxy_http_version 1.1 and Connection "")'}, keepalive_timeout ${ms(u.keepaliveTimeoutMs)}` : 'none (a new connection per request)'}; ` +
        `proxy timeouts connect ${ms(u.timeouts.connectMs)}, read ${ms(u.timeouts.readMs)}, send ${ms(u.timeouts.sendMs)}`,
    );
  }
  return out;
}

function renderMachine(facts: DoctorFacts): string {
  const n = facts.machine.netstat;
  const counters = n
    ? `TcpExt ListenOverflows +${n.listenOverflows.delta}, ListenDrops +${n.listenDrops.delta} in ${(n.intervalMs / 1000).toFixed(1)} s`
    : facts.targets.some((t) => t.kind === 'port' || t.listeners.some((l) => l.kind !== 'unix'))
      ? 'TcpExt ListenOverflows not compared (one sample: --interval 0, or /proc/net/netstat unreadable)'
      : 'TcpExt ListenOverflows not read (no TCP listener inspected; unix sockets are not counted there)';
  return `  machine: net.core.somaxconn ${facts.machine.somaxconn ?? '?'}; ${counters}`;
}

/** `Most likely: CAUSE (where): sentence` — the first line of the text report. */
export function renderMostLikely(report: Pick<DoctorReport, 'rootCause'>): string {
  const root = report.rootCause;
  if (!root) return 'Most likely: nothing wrong found';
  // A log finding's sentence already names the other readings of its lines.
  const also =
    root.alternatives.length > 0 && root.source === 'live'
      ? ` (the facts cannot rule out ${root.alternatives.join(', ')})`
      : '';
  return `Most likely: ${root.cause} (${root.target}): ${root.sentence}${also}`;
}

/** The human-readable report: findings (cause, evidence, fix, confirm), what was inspected, log tables, verdict. */
export function renderDoctorText(report: DoctorReport): string {
  const out: string[] = [];
  const root = report.rootCause;
  if (root) out.push(renderMostLikely(report));
  const critical = report.findings.filter((f) => f.severity === 'critical').length;
  const warning = report.findings.length - critical;
  out.push(
    report.findings.length === 0
      ? 'badgateway doctor: no finding'
      : `badgateway doctor: ${report.findings.length} finding${report.findings.length === 1 ? '' : 's'} (${critical} critical, ${warning} warning)`,
    '',
  );
  for (const f of report.findings) out.push(...renderFinding(f), '');
  if (report.facts) {
    out.push(`Inspected (${report.facts.targets.length} target${report.facts.targets.length === 1 ? '' : 's'}):`);
    for (const t of report.facts.targets) out.push(...renderTarget(t));
    out.push(renderMachine(report.facts), '');
  }
  if (report.proxyConfigs.length > 0) {
    out.push('Proxy config:');
    for (const c of report.proxyConfigs) out.push(...renderProxyConfig(c));
    out.push('');
  }
  if (report.errorLog) out.push(...renderErrorLogSummary(report.errorLog), '');
  if (report.accessLog) out.push(...renderAccessLogSummary(report.accessLog), '');
  for (const c of report.crashLogs) {
    out.push(
      `Worker deaths (${c.sources.join(', ')}): ${c.crashes.map((x) => `${x.count} × ${x.pattern}`).join(', ') || 'none'}`,
    );
  }
  for (const n of report.notes) out.push(`note: ${n}`);
  for (const u of report.unseen) out.push(`not seen: ${u}`);
  out.push(
    report.verdict === 'incomplete'
      ? `verdict: incomplete — no finding in what doctor could read, but it could not read all of it (not seen, above) (exit ${report.exitCode})`
      : `verdict: ${report.verdict} (exit ${report.exitCode})`,
  );
  return `${escapeForTerminal(out.join('\n'))}\n`;
}

/** The proxy (error) log part of the text report: counts by status, then the pattern table. */
function renderErrorLogSummary(e: ErrorLogSummary): string[] {
  const out: string[] = [];
  const formats = Object.entries(e.formats);
  const onlyNginx = formats.every(([f]) => f === 'nginx');
  const kinds = onlyNginx
    ? ''
    : ` (${[...formats.map(([f, n]) => `${f} ${n}`), ...(e.lines.notProxy > 0 ? [`not a proxy line ${e.lines.notProxy}`] : [])].join(', ')})`;
  const s503 = e.statuses['503'] > 0 ? `, 503: ${e.statuses['503']}` : '';
  out.push(
    `${onlyNginx ? 'Error log' : 'Proxy log'}: ${e.lines.total} lines in ${e.files.length} file${e.files.length === 1 ? '' : 's'}${kinds}; ${e.lines.upstreamErrors} upstream/proxy errors ` +
      `(502: ${e.statuses['502']}${s503}, 504: ${e.statuses['504']}, 500: ${e.statuses['500']}, no response/truncated: ${e.statuses.none}; unknown: ${e.lines.unknownUpstream})`,
  );
  const { clientAbort, appError, healthCheck } = e.ignored;
  if (clientAbort + appError + healthCheck > 0) {
    out.push(
      `  not a proxy cause: ${clientAbort} client abort${clientAbort === 1 ? '' : 's'}, ${appError} 5xx sent by the app itself, ${healthCheck} health-check request${healthCheck === 1 ? '' : 's'}`,
    );
  }
  for (const f of e.files.filter((x) => x.error !== undefined)) out.push(`  ${f.file}: ${f.error}`);
  if (e.patterns.length > 0) {
    const w = Math.max(7, ...e.patterns.map((p) => p.id.length));
    out.push(
      `  ${'pattern'.padEnd(w)}  ${'lines'.padStart(8)}  status  first seen → last seen                     causes`,
    );
    for (const p of e.patterns) {
      out.push(
        `  ${p.id.padEnd(w)}  ${String(p.count).padStart(8)}  ${String(p.status ?? '-').padEnd(6)}  ${p.firstSeen ?? '?'} → ${p.lastSeen ?? '?'}  ${p.causes.join(', ') || '-'}`,
      );
    }
    out.push(
      `  upstreams: ${e.upstreams
        .slice(0, 8)
        .map((u) => `${u.name} ${u.count}`)
        .join(', ')}${e.upstreams.length > 8 ? ', …' : ''}`,
    );
  }
  return out;
}

/** The access log part of the text report: 502/504 per upstream, then the last bad time buckets. */
function renderAccessLogSummary(a: AccessLogSummary): string[] {
  const formats = Object.entries(a.lines.byFormat)
    .filter(([, n]) => n > 0)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');
  const out = [
    `Access log: ${a.lines.total} lines (${formats || 'no known format'}; unparsed ${a.lines.unparsed}); 502: ${a.s502}, 504: ${a.s504}`,
  ];
  for (const u of a.upstreams.slice(0, 10))
    out.push(`  upstream ${u.name}: ${u.attempts} attempts, ${u.s502} × 502, ${u.s504} × 504`);
  const bad = a.timeline.filter((b) => b.s502 + b.s504 > 0);
  for (const b of bad.slice(-10)) out.push(`  ${b.bucket}  ${b.requests} requests, ${b.s502} × 502, ${b.s504} × 504`);
  return out;
}

/** One line per --watch sample: the live numbers with their change since the previous sample, and the causes found. */
export function renderWatchLine(report: DoctorReport, previous: DoctorReport | undefined): string {
  const time = report.generatedAt.slice(11, 19);
  const prevTargets = new Map((previous?.facts?.targets ?? []).map((t) => [t.label, t]));
  const delta = (now: number, before: number | undefined): string =>
    before === undefined || now === before ? '' : ` (${now > before ? '+' : ''}${now - before})`;
  const parts: string[] = [];
  for (const t of report.facts?.targets ?? []) {
    const before = prevTargets.get(t.label);
    const bits = [t.label];
    if (t.process)
      bits.push(
        `fds ${t.process.fds.open}/${t.process.fds.soft ?? '∞'}${delta(t.process.fds.open, before?.process?.fds.open)}`,
      );
    for (const l of t.listeners) {
      const bl = before?.listeners.find((x) => x.name === l.name);
      bits.push(`${l.name} queue ${l.queue ?? '?'}/${l.backlog ?? '?'}${delta(l.queue ?? 0, bl?.queue ?? undefined)}`);
      const idle = l.connections?.idle ?? l.connections?.quiet?.count;
      if (idle !== undefined)
        bits.push(`idle ${idle}${delta(idle, bl?.connections?.idle ?? bl?.connections?.quiet?.count)}`);
    }
    if (t.missing) bits.push(t.missing);
    parts.push(bits.join(' '));
  }
  const n = report.facts?.machine.netstat;
  if (n) parts.push(`overflows +${n.listenOverflows.delta} drops +${n.listenDrops.delta}`);
  const causes =
    report.findings.map((f) => `${f.cause}(${f.severity})`).join(' ') ||
    (report.verdict === 'incomplete' ? 'incomplete (not seen: see the report)' : 'healthy');
  return `${escapeForTerminal(`${time}  ${parts.join(' | ')}  → ${causes}`)}\n`;
}
