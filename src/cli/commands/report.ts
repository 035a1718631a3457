import { Option, type Command } from 'commander';
import { LOAD_DEFAULTS } from '../../load/options.js';
import { renderLoadJson, renderLoadText } from '../../load/report-text.js';
import type { CliContext } from '../context.js';
import { parseDurationArg } from '../options.js';

/** `badgateway report FILE…`: re-reads result files from `load --output` and merges them. */
export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('Re-read one or more result files written by `badgateway load --output` (gzipped too) and print one merged report.')
    .argument('<files...>', 'NDJSON result files (.gz accepted)')
    .option('--json', 'print the merged metrics as JSON')
    .addOption(new Option('--bucket <time>', 'timeline bucket width in the JSON report').default(LOAD_DEFAULTS.bucketMs, '1s').argParser(parseDurationArg()))
    .addHelpText(
      'after',
      `
All the files' requests go into one set of HDR histograms: the totals and status codes add up and
the latency percentiles are those of all the requests (no averaging). Runs started together with
\`load --start-at\` are placed on one wall-clock timeline (0 = the agreed start); other files are
overlaid as if they had started together. The asked rate is the sum of the files' asked rates
(from their headers; inferred from the spacing of the due times for files without one).

Examples:
  badgateway load http://127.0.0.1:8080/ --rate 100 --duration 10s --output a.ndjson
  badgateway report a.ndjson
  badgateway report host1.ndjson host2.ndjson.gz --json
  # three machines, one start (see load --help): then merge their files
  badgateway report web-1.ndjson web-2.ndjson web-3.ndjson
`,
    )
    .action(async (files: string[], flags: { json?: boolean; bucket: number }) => {
      // Lazy: the histogram library is only needed once there are files to read.
      const { mergeResultFiles } = await import('../../load/merge.js');
      const report = await mergeResultFiles(files, { bucketMs: flags.bucket });
      ctx.stdout.write(flags.json ? renderLoadJson(report) : renderLoadText(report));
      if (report.skippedLines > 0 && !flags.json) ctx.stderr.write(`badgateway report: skipped ${report.skippedLines} lines that were not result records\n`);
    });
}
