import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../../errors/index.js';
import { LOAD_DEFAULTS, summarizeResultFiles } from '../../load/index.js';
import { renderLoadHtml, renderLoadJson, renderLoadText } from '../../report/index.js';
import type { CliContext } from '../context.js';
import { checkWritable, durationOption, EXIT_STATUS, jsonOption } from '../options.js';

/** `badgateway report FILE…`: re-reads result files from `load --output` and summarizes them. */
export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description(
      'summarize result files of `badgateway load --output` (several machines or runs, gzipped, or - for stdin) in one report',
    )
    .argument('<files...>', 'NDJSON result files (gzip read by its magic bytes; - = stdin)')
    .addOption(jsonOption('the summary as JSON (schema badgateway.load/v1, with the files and hosts read)'))
    .option(
      '--html <file>',
      'also write a self-contained HTML page with the charts the lab page draws (requests/s by status, latency over time)',
    )
    .addOption(durationOption('--bucket <duration>', 'timeline bucket width (JSON and HTML)', LOAD_DEFAULTS.bucketMs))
    .addHelpText(
      'after',
      `
All the files' requests go into one set of HDR histograms: the totals and status codes add up and
the latency percentiles are those of all the requests (no averaging). Runs started together with
\`load --start-at\` are placed on one wall-clock timeline (0 = the agreed start); other files are
overlaid as if they had started together. The asked rate is the sum of the files' asked rates
(from their headers; inferred from the spacing of the due times for files without one).

${EXIT_STATUS.report}

Examples:
  $ badgateway load http://127.0.0.1:8080/ -r 100 -d 10s --output a.ndjson
  $ badgateway report a.ndjson
  $ badgateway report host1.ndjson host2.ndjson.gz --json
  $ badgateway load http://127.0.0.1:8080/ -r 100 -d 10s --output - | badgateway report -
  $ badgateway report a.ndjson --html a.html
  $ badgateway report web-1.ndjson web-2.ndjson web-3.ndjson     three machines, one start (see load --help)`,
    )
    .action(async (files: string[], flags: { json?: boolean; html?: string; bucket: number }) => {
      if (flags.html !== undefined) checkWritable('--html', flags.html);
      const summary = await summarizeResultFiles(files, { bucketMs: flags.bucket });
      if (flags.html !== undefined) {
        const title = `badgateway report ${files.map((f) => (f === '-' ? 'stdin' : f)).join(' ')}`;
        try {
          await writeFile(flags.html, renderLoadHtml(summary, { title }));
        } catch (err) {
          throw new BadgatewayError(
            ERROR_CODES.UNREADABLE,
            `--html: cannot write ${flags.html} (${errnoCode(err) ?? String(err)})`,
          );
        }
      }
      ctx.stdout.write(flags.json ? renderLoadJson(summary) : renderLoadText(summary));
      if (summary.skippedLines > 0 && !flags.json)
        ctx.stderr.write(`badgateway report: skipped ${summary.skippedLines} lines that were not result records\n`);
    });
}
