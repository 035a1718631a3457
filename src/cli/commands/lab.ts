import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { getCause } from '../../causes/index.js';
import { errnoCode, BadgatewayError, ERROR_CODES } from '../../errors/index.js';
import {
  PROXY_KINDS,
  SCENARIOS,
  UPSTREAM_KINDS,
  checkPythonServers,
  getScenario,
  runLab,
  type LabEvent,
  type ProxyKind,
  type UpstreamKind,
} from '../../lab/index.js';
import {
  createColors,
  matrixRunsOf,
  renderLabHtml,
  renderLabJson,
  renderLabMatrix,
  renderLabText,
  renderSeconds,
  renderStatusCounts,
  renderTable,
  shouldColor,
} from '../../report/index.js';
import type { CliContext } from '../context.js';
import { addDeprecatedAliases, checkWritable, EXIT_STATUS, jsonOption, jsonSchema } from '../options.js';
import { terminalColumns } from '../terminal.js';

interface LabCliOptions {
  proxy: ProxyKind | 'auto' | 'all';
  app?: UpstreamKind;
  json?: boolean;
  markdown?: boolean;
  html?: string;
}

/** Live progress on a terminal (stderr): one line per scenario, the running phase redrawn in place. */
function createProgress(ctx: CliContext): (event: LabEvent) => void {
  const stream = ctx.stderr;
  if (!stream.isTTY) return () => undefined;
  const c = createColors(shouldColor(stream));
  let live = false;
  const clear = (): void => {
    if (live) stream.write('\r\u001b[2K');
    live = false;
  };
  let label = '';
  return (event) => {
    switch (event.type) {
      case 'start':
        stream.write(
          `badgateway lab: ${event.runs} ${event.runs === 1 ? 'run' : 'runs'} (scenario × app) behind ${event.proxies.join(', ')}${event.skipped.length > 0 ? `, ${event.skipped.length} skipped` : ''}\n`,
        );
        break;
      case 'scenario':
        clear();
        label = `[${event.index + 1}/${event.runs}] ${event.id} (${event.proxy}, ${event.upstream})`;
        stream.write(`${c.bold(label)}\n  ${c.dim(event.how)}\n`);
        break;
      case 'progress': {
        clear();
        const counts = Object.entries(event.statusCodes)
          .map(([k, n]) => `${k === '0' ? 'errors' : k} × ${n}`)
          .join('  ');
        stream.write(
          `  ${event.phase} phase  ${(event.elapsedMs / 1000).toFixed(1)}/${(event.durationMs / 1000).toFixed(1)} s  sent ${event.sent}  ${counts}`,
        );
        live = true;
        break;
      }
      case 'result': {
        clear();
        const r = event.result;
        const mark = r.verdict.ok ? c.green('✓') : c.red('✗');
        stream.write(
          `  ${mark} fail: ${renderStatusCounts(r.phases.fail.client.statusCodes)}; fix: ${r.phases.fix ? renderStatusCounts(r.phases.fix.client.statusCodes) : 'not run'} (${renderSeconds(r.durationMs)})\n`,
        );
        for (const note of r.phases.fail.notes) stream.write(`    ${c.dim(`fail phase: ${note}`)}\n`);
        break;
      }
      case 'phase':
        break;
    }
  };
}

async function listScenarios(ctx: CliContext, json: boolean): Promise<void> {
  const python = await checkPythonServers();
  const rows = SCENARIOS.flatMap((s) =>
    s.upstreams.map((upstream) => ({
      id: s.id,
      upstream,
      statuses: getCause(s.causeId)?.statuses ?? [],
      seed: s.seeds?.[upstream] ?? null,
      title: s.title,
      unavailable: upstream === 'node' ? null : (python[upstream] ?? null),
    })),
  );
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ schema: jsonSchema('lab.list'), scenarios: rows }, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(
    renderTable(
      [
        { header: 'SCENARIO', cell: (r: (typeof rows)[number]) => r.id },
        { header: 'UPSTREAM', cell: (r) => r.upstream },
        { header: 'STATUS', cell: (r) => r.statuses.join('/') },
        { header: 'SEED', cell: (r) => r.seed ?? '' },
        { header: 'RUNS HERE', cell: (r) => (r.unavailable ? `no: ${r.unavailable}` : 'yes') },
        { header: 'TITLE', cell: (r) => r.title },
      ],
      rows,
    ),
  );
}

/** `badgateway lab [scenario…]`: reproduce each cause behind a real proxy, then show the fix holds. */
export function registerLab(program: Command, ctx: CliContext): void {
  const command = program
    .command('lab')
    .description('reproduce each cause of 502/504 end to end (fail phase), then show the fix holds (fix phase)')
    .argument('[scenario...]', `scenarios to run (default: all), or "list": ${SCENARIOS.map((s) => s.id).join(', ')}`)
    .addOption(
      new Option(
        '--proxy <kind>',
        'proxy in front: nginx, haproxy, caddy, builtin, all (each one installed here), or auto (nginx if installed)',
      )
        .choices(['auto', 'all', ...PROXY_KINDS])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--app <kind>',
        'app server behind the proxy (default: every one a scenario has that runs here)',
      ).choices([...UPSTREAM_KINDS]),
    )
    .addOption(jsonOption('print the full report as JSON on stdout (schema badgateway.lab/v1; no table)'))
    .option(
      '--markdown',
      'print the cause × proxy matrix (status and log line or flag per proxy) as Markdown instead of the table',
    )
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .addHelpText(
      'after',
      `
Each scenario runs a fail phase (the cause, provoked on purpose) and a fix phase (the same load
with the fix applied), behind nginx, HAProxy, Caddy or the built-in proxy, and prints one verdict
per scenario and proxy, each judged by that proxy's own status and log line for the cause. On a
terminal the table is fitted to its width (the log line is shortened first, then the doctor column,
then the proxy and app names); piped, it is printed whole.

${EXIT_STATUS.lab}

Examples:
  $ badgateway lab                                 every scenario that can run here
  $ badgateway lab list
  $ badgateway lab backlog-overflow-unix --app gunicorn     seed 002 for real
  $ badgateway lab keepalive-race --proxy builtin --json > race.json
  $ badgateway lab --proxy haproxy --app node
  $ badgateway lab --proxy all --markdown         the cause × proxy matrix of a run
  $ badgateway lab --html lab.html`,
    );
  addDeprecatedAliases(command, ctx, [
    {
      flags: '--upstream <kind>',
      replacement: '--app',
      attribute: 'app',
      parse: (value: string) => {
        if (!(UPSTREAM_KINDS as readonly string[]).includes(value))
          throw new InvalidArgumentError(`Allowed choices are ${UPSTREAM_KINDS.join(', ')}.`);
        return value;
      },
    },
  ]);
  command.action((ids: string[], opts: LabCliOptions) => runLabCommand(ids, opts, ctx));
}

/**
 * The action of `badgateway lab`: checks the scenario ids and --html before the long run, runs the
 * lab with progress on stderr, then prints the report as text, JSON or Markdown.
 */
async function runLabCommand(ids: string[], opts: LabCliOptions, ctx: CliContext): Promise<void> {
  if (ids.length === 1 && ids[0] === 'list') return listScenarios(ctx, opts.json === true);
  for (const id of ids) {
    if (!getScenario(id)) {
      throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `unknown scenario ${JSON.stringify(id)}`, {
        hint: `known: ${SCENARIOS.map((s) => s.id).join(', ')} (badgateway lab list)`,
      });
    }
  }
  // Say so before a minute of lab, not after.
  if (opts.html) checkWritable('--html', opts.html);
  const progress = createProgress(ctx);
  const report = await runLab({
    scenarios: ids,
    proxy: opts.proxy,
    ...(opts.app ? { upstream: opts.app } : {}),
    signal: ctx.signal,
    onEvent: progress,
    own: (resource) => ctx.own(resource),
  });
  if (opts.html) {
    try {
      await writeFile(opts.html, renderLabHtml(report));
    } catch (err) {
      throw new BadgatewayError(
        ERROR_CODES.UNREADABLE,
        `--html ${opts.html}: cannot write (${errnoCode(err) ?? String(err)})`,
      );
    }
  }
  const out = opts.json
    ? renderLabJson(report)
    : opts.markdown
      ? renderLabMatrix(matrixRunsOf(report))
      : renderLabText(report, { color: shouldColor(ctx.stdout), columns: terminalColumns(ctx.stdout) });
  // The report can be hundreds of KB: wait until a pipe has taken it all, the process exits right after.
  await new Promise<void>((resolve) => ctx.stdout.write(out, () => resolve()));
  if (opts.html && !opts.json && ctx.stderr.isTTY) ctx.stderr.write(`HTML report: ${opts.html}\n`);
  ctx.exitCode = report.interrupted ? 130 : report.ok ? 0 : 1;
}
