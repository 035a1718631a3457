import { CAUSES, type Cause } from './catalogue.js';
import { PROXY_LOG_PATTERNS } from './patterns.js';
import { PROXY_NAMES, describeSignal, getProxyView } from './proxy-views.js';

const patternById = new Map(PROXY_LOG_PATTERNS.map((p) => [p.id, p]));

/** Plain-text explanation of one cause: summary, what the proxy logs, evidence, fix, commands. */
export function renderCauseText(cause: Cause): string {
  const lines = [`${cause.id} — ${cause.title}`, '', wrap(cause.summary, 100), ''];
  lines.push(`Client sees: ${cause.statuses.join(' or ')}`, '', 'The proxy logs (nginx):');
  for (const id of cause.proxyLog) {
    const p = patternById.get(id);
    if (p) lines.push(`  [${p.level}] ${p.regex.source.replace(/\\/g, '')}`);
  }
  lines.push('', 'Evidence:', ...cause.evidence.map((e) => `  - ${e}`));
  lines.push('', 'Confirm:', ...cause.confirm.map((c) => `  $ ${c}`));
  lines.push('', 'Fix:', ...cause.fix.map((f) => `  - ${f}`));
  lines.push('', ...renderProxyViews(cause));
  if (cause.seed) lines.push('', `Seed incident: ${cause.seed}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The per-proxy view of a cause: what nginx, HAProxy, Caddy, Envoy, Traefik and an ALB return and
 * log for it, the flag or field that gives it away, and the fix on the proxy's side.
 */
export function renderProxyViews(cause: Cause): string[] {
  const lines = ['Per proxy (status, what gives it away, proxy-side fix):'];
  for (const proxy of PROXY_NAMES) {
    const view = getProxyView(cause.id, proxy);
    if (!view) {
      lines.push(`  ${proxy.padEnd(8)} (no view yet)`);
      continue;
    }
    if ('na' in view) {
      lines.push(`  ${proxy.padEnd(8)} n/a: ${view.na}`);
      continue;
    }
    const flags = [...new Set(view.signals.map((id) => describeSignal(id)?.flag ?? id))];
    lines.push(`  ${proxy.padEnd(8)} ${view.statuses.join('/')}  ${flags[0] ?? ''}`);
    for (const flag of flags.slice(1))
      lines.push(`  ${''.padEnd(8)} ${''.padEnd(view.statuses.join('/').length)}  ${flag}`);
    lines.push(
      ...wrap(`fix: ${view.fix}`, 88)
        .split('\n')
        .map((l) => `  ${''.padEnd(8)} ${l}`),
    );
  }
  return lines;
}

/** The whole catalogue as Markdown (README / docs are generated from this, never written by hand). */
export function renderCausesMarkdown(): string {
  const out = ['| id | cause | client sees | what nginx logs | fix |', '|---|---|---|---|---|'];
  for (const c of CAUSES) {
    const logs = c.proxyLog
      .map((id) => patternById.get(id))
      .filter((p) => p !== undefined)
      .map((p) => `\`${p.example.replace(/^.*?\[\w+\] \d+#\d+: (?:\*\d+ )?/, '').replace(/, client: .*$/, '')}\``)
      .join('<br>');
    out.push(`| \`${c.id}\` | ${c.title} | ${c.statuses.join('/')} | ${logs} | ${c.fix[0] ?? ''} |`);
  }
  return `${out.join('\n')}\n`;
}

function wrap(text: string, width: number): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
