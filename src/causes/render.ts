import { CAUSES, type Cause } from './catalogue.js';
import { PROXY_LOG_PATTERNS } from './patterns.js';

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
  if (cause.seed) lines.push('', `Seed incident: ${cause.seed}`);
  return `${lines.join('\n')}\n`;
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
