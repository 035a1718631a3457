import { InvalidArgumentError, type Command } from 'commander';
import { CAUSES, CAUSE_IDS, PROXY_LOG_PATTERNS, PROXY_NAMES, PROXY_SIGNALS, getCause, getProxyView, renderCauseText, renderCausesMarkdown } from '../../causes/index.js';
import type { CliContext } from '../context.js';

/** `badgateway causes [id]`: the cause catalogue, as text, JSON or Markdown. */
export function registerCauses(program: Command, ctx: CliContext): void {
  program
    .command('causes')
    .description('explain the causes of 502/504 that badgateway knows: what each proxy returns and logs, the evidence, the fix')
    .argument('[id]', `one cause (${CAUSE_IDS.join(', ')})`, (id: string) => {
      if (!getCause(id)) throw new InvalidArgumentError(`unknown cause; known: ${CAUSE_IDS.join(', ')}.`);
      return id;
    })
    .option('--json', 'the catalogue (causes with their per-proxy views, nginx log patterns, other proxies\' signals) as JSON')
    .option('--markdown', 'a Markdown table of all causes')
    .addHelpText(
      'after',
      `
Examples:
  $ badgateway causes                      list every cause
  $ badgateway causes backlog-overflow-unix
  $ badgateway causes --json | jq '.patterns[].id'`,
    )
    .action((id: string | undefined, opts: { json?: boolean; markdown?: boolean }) => {
      const causes = id ? CAUSES.filter((c) => c.id === id) : CAUSES;
      if (opts.json) {
        const patterns = PROXY_LOG_PATTERNS.map((p) => ({ ...p, regex: p.regex.source }));
        const withViews = causes.map((c) => ({ ...c, proxies: Object.fromEntries(PROXY_NAMES.map((p) => [p, getProxyView(c.id, p) ?? null])) }));
        ctx.stdout.write(`${JSON.stringify({ causes: withViews, patterns, signals: PROXY_SIGNALS }, null, 2)}\n`);
      } else if (opts.markdown) {
        ctx.stdout.write(renderCausesMarkdown());
      } else if (id) {
        ctx.stdout.write(renderCauseText(causes[0]!));
      } else {
        const width = Math.max(...causes.map((c) => c.id.length));
        for (const c of causes) ctx.stdout.write(`${c.id.padEnd(width)}  ${c.statuses.join('/')}  ${c.title}\n`);
        ctx.stdout.write(`\nbadgateway causes ID explains one.\n`);
      }
    });
}
