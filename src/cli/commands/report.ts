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
Runs from several machines merge as if they had started together: the totals and status codes add
up, the latency percentiles are those of all requests, and the rate is the sum of the rates.
The asked rate is inferred from the spacing of the due times.

Examples:
  badgateway load http://127.0.0.1:8080/ --rate 100 --duration 10s --output a.ndjson
  badgateway report a.ndjson
  badgateway report host1.ndjson host2.ndjson.gz --json
`,
    )
    .action(async (files: string[], flags: { json?: boolean; bucket: number }) => {
      // Lazy: the histogram library is only needed once there are files to read.
      const [{ createMetrics }, { readResults }] = await Promise.all([import('../../load/metrics.js'), import('../../load/results-file.js')]);
      const metrics = createMetrics({ bucketMs: flags.bucket });
      const stats = await readResults(files, (r) => metrics.add(r));
      const result = metrics.close();
      ctx.stdout.write(flags.json ? renderLoadJson({ ...result, files: stats.files, skippedLines: stats.skipped } as typeof result) : renderLoadText(result));
      if (stats.skipped > 0 && !flags.json) ctx.stderr.write(`badgateway report: skipped ${stats.skipped} lines that were not result records\n`);
    });
}
