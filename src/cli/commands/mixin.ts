import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../../errors/index.js';
import { parseMixinConfig, renderMixinFiles, resolveMixinConfig, writeMixinFiles } from '../../mixin/index.js';
import type { CliContext } from '../context.js';
import { EXIT_STATUS, jsonOption, jsonSchema, requiredOption } from '../options.js';

/** `badgateway mixin --out DIR`: writes the Prometheus rules, alerts and Grafana dashboard. */
export function registerMixin(program: Command, ctx: CliContext): void {
  program
    .command('mixin')
    .description(
      'write the monitoring mixin: Prometheus recording and alerting rules (one alert per cause) and a Grafana dashboard',
    )
    .addOption(
      requiredOption(
        new Option('--out <dir>', 'directory to write the files into (created if missing; files in it are replaced)'),
      ),
    )
    .option(
      '--config <file>',
      'a JSON object overriding the defaults: selector, rateInterval, thresholds, for (per rule key), runbookUrlPattern, dashboard',
    )
    .addOption(
      jsonOption('print what was written as JSON (schema badgateway.mixin/v1: the files) instead of one line each'),
    )
    .addHelpText(
      'after',
      `
Files (the layout monitoring mixins render to):
  prometheus_rules.yaml                     recording rules (fd ratio, accept queue fill, shed rate, 502/504 rates)
  prometheus_alerts.yaml                    alerting rules: BadgatewayFdExhaustion, BadgatewayKeepaliveLeak, ...
  dashboards_out/badgateway-overview.json   Grafana dashboard (datasource variable: imports anywhere)
  mixin.libsonnet                           the same as prometheusRules / prometheusAlerts / grafanaDashboards

${EXIT_STATUS.mixin}

Examples:
  $ badgateway mixin --out monitoring/badgateway
  $ promtool check rules monitoring/badgateway/*.yaml
  $ echo '{"selector": "job=~\\"app|doctor\\"", "for": {"fdExhaustionCritical": "5m"}}' > mixin.json
  $ badgateway mixin --out monitoring/badgateway --config mixin.json`,
    )
    .action(async (opts: { out: string; config?: string; json?: boolean }) => {
      let user = {};
      if (opts.config !== undefined) {
        let text: string;
        try {
          text = await readFile(opts.config, 'utf8');
        } catch (err) {
          throw new BadgatewayError(
            ERROR_CODES.UNREADABLE,
            `--config: cannot read ${opts.config} (${errnoCode(err) ?? String(err)})`,
          );
        }
        user = parseMixinConfig(text, opts.config);
      }
      const config = resolveMixinConfig(user);
      const written = await writeMixinFiles(opts.out, renderMixinFiles(config));
      if (opts.json) ctx.stdout.write(`${JSON.stringify({ schema: jsonSchema('mixin'), files: written }, null, 2)}\n`);
      else for (const path of written) ctx.stdout.write(`wrote ${path}\n`);
    });
}
