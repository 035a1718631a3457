import { runAttack } from './attacker.js';
import { createMetrics, type LoadMetrics } from './metrics.js';
import { resolveLoadOptions, type LoadOptions } from './options.js';
import { createResultsWriter } from './results-file.js';

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
  const writer = o.resultsPath !== undefined ? createResultsWriter(o.resultsPath) : undefined;
  const onResult = o.onResult;
  const summary = await runAttack(o, (result) => {
    metrics.add(result);
    writer?.write(result);
    onResult?.(result);
  });
  await writer?.close();
  return {
    ...metrics.close({ rateAsked: o.rate }),
    unsent: summary.unsent,
    peakInflight: summary.peakInflight,
    connectionCap: summary.connectionCap,
    interrupted: summary.interrupted,
    startedAt: new Date(summary.startedAtMs).toISOString(),
  };
}
