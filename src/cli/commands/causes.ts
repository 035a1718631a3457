import { InvalidArgumentError, type Command } from 'commander';
import {
  CAUSES,
  CAUSE_IDS,
  PROXY_LOG_PATTERNS,
  PROXY_NAMES,
  PROXY_SIGNALS,
  getCause,
  getProxyView,
  renderCauseText,
  renderCausesMarkdown,
} from '../../causes/index.js';
import { renderTable } from '../../report/index.js';
import type { CliContext } from '../context.js';
import { EXIT_STATUS, jsonOption, jsonSchema } from '../options.js';

/** `badgateway causes [id]`: the cause catalogue, as text, JSON or Markdown. */
export function registerCauses(program: Command, ctx: CliContext): void {
  program
    .command('causes')
    .description(
      'explain the causes of 502/504 that badgateway knows: what each proxy returns and logs, the evidence, the fix',
    )
    .argument('[id]', `one cause (${CAUSE_IDS.join(', ')})`, (id: string) => {
      if (!getCause(id)) throw new InvalidArgumentError(`unknown cause; known: ${CAUSE_IDS.join(', ')}.`);
      return id;
    })
    .addOption(
      jsonOption(
        "the catalogue as JSON (schema badgateway.causes/v1): causes with their per-proxy views, nginx log patterns, other proxies' signals",
      ),
    )
    .option('--markdown', 'a Markdown table of all causes')
    .addHelpText(
      'after',
      `
${EXIT_STATUS.causes}

Examples:
  $ badgateway causes                      list every cause
  $ badgateway causes backlog-overflow-unix
  $ badgateway causes --json | jq '.patterns[].id'`,
    )
    .action((id: string | undefined, opts: { json?: boolean; markdown?: boolean }) => {
      const causes = id ? CAUSES.filter((c) => c.id === id) : CAUSES;
      if (opts.json) {
        const patterns = PROXY_LOG_PATTERNS.map((p) => ({ ...p, regex: p.regex.source }));
        const withViews = causes.map((c) => ({
          ...c,
          proxies: Object.fromEntries(PROXY_NAMES.map((p) => [p, getProxyView(c.id, p) ?? null])),
        }));
        ctx.stdout.write(
          `${JSON.stringify({ schema: jsonSchema('causes'), causes: withViews, patterns, signals: PROXY_SIGNALS }, null, 2)}\n`,
        );
      } else if (opts.markdown) {
        ctx.stdout.write(renderCausesMarkdown());
      } else if (id) {
        ctx.stdout.write(renderCauseText(causes[0]!));
      } else {
        ctx.stdout.write(
          renderTable(
            [
              { header: 'CAUSE', cell: (c: (typeof causes)[number]) => c.id },
              { header: 'CLIENT SEES', cell: (c) => c.statuses.join('/') },
              { header: 'WHAT IT IS', cell: (c) => c.title },
            ],
            causes,
          ),
        );
        ctx.stdout.write(`\nbadgateway causes ID explains one.\n`);
      }
    });
}
