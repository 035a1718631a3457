import { runAttack } from './attacker.js';
import { createMetrics, type LoadMetrics } from './metrics.js';
import { resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions } from './options.js';
import { createResultsWriter } from './results-file.js';
import { RESULTS_SCHEMA, type ResultsHeader } from './result.js';
import { hostname } from 'node:os';

/** {@link LoadMetrics} of a live run, with what only the run itself knows. */
export interface LoadRunMetrics extends LoadMetrics {
  /** Open loop: requests due within the duration that were never sent (the engine fell behind). */
  unsent: number;
  /** Most requests in flight at once. */
  peakInflight: number;
  /** Most connections the run could open (`connections` × origins): when `peakInflight` reached it, requests queued for a connection. */
  connectionCap: number;
  /** True when the run was stopped by its signal before the end. */
  interrupted: boolean;
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
}

/**
 * Runs a load test and resolves to its metrics (plain JSON). Errors of individual requests are
 * data in the metrics; it throws only for bad options (`BG_BAD_OPTION`) or an unwritable
 * `resultsPath` (`BG_UNREADABLE`). An aborted `signal` stops sending and resolves with what was sent.
 */
export async function runLoad(options: LoadOptions): Promise<LoadRunMetrics> {
  const o = resolveLoadOptions(options);
  const metrics = createMetrics({ bucketMs: o.bucketMs });
  const rateAsked = o.rateShare ? o.rate / o.rateShare.count : o.rate;
  const writer =
    o.resultsPath !== undefined
      ? createResultsWriter(o.resultsPath, o.resultsStdout ? { stdout: o.resultsStdout } : {})
      : undefined;
  const onResult = o.onResult;
  const summary = await runAttack(
    o,
    (result) => {
      metrics.add(result);
      writer?.write(result);
      onResult?.(result);
    },
    (startedAtMs) => writer?.writeHeader(createHeader(o, startedAtMs, rateAsked)),
  );
  await writer?.close();
  return {
    ...metrics.close({ rateAsked }),
    unsent: summary.unsent,
    peakInflight: summary.peakInflight,
    connectionCap: summary.connectionCap,
    interrupted: summary.interrupted,
    startedAt: new Date(summary.startedAtMs).toISOString(),
  };
}

/** The results file's header: this machine, the instant its times count from, its share of the rate. */
function createHeader(o: ResolvedLoadOptions, startedAtMs: number, rate: number): ResultsHeader {
  return {
    type: 'header',
    schema: RESULTS_SCHEMA,
    host: hostname(),
    pid: process.pid,
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    coordinated: o.startAtMs !== undefined,
    rate,
    rateTotal: o.rate,
    rateShare: o.rateShare ? `${o.rateShare.index}/${o.rateShare.count}` : null,
    durationMs: o.durationMs,
  };
}
