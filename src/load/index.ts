/**
 * The load area: an open-loop, constant-rate HTTP load generator (vegeta's pipeline on undici).
 * Targets → Pacer → Attacker → results (NDJSON) → Metrics (HDR histograms) → reporters.
 */
export { runLoad, type LoadRunMetrics } from './run-load.js';
export { LOAD_DEFAULTS, LOAD_ENGINES, resolveLoadOptions, type LoadEngine, type LoadOptions, type LoadProgress, type ResolvedLoadOptions } from './options.js';
export { parseTargets, readTargetsFile, createTargeter, type Target, type Targeter } from './targets.js';
export { createConstantPacer, type Pacer } from './pacer.js';
export { runAttack, RESULT_CHANNEL, type AttackSummary } from './attacker.js';
export { LOAD_ERROR_CODES, classifyError } from './error-codes.js';
export { encodeResult, decodeResult, type LoadResult } from './result.js';
export { createResultsWriter, readResults, type ResultsWriter, type ReadStats } from './results-file.js';
export { createMetrics, type Metrics, type LoadMetrics, type LatencySummaryMs, type TimelineBucket } from './metrics.js';
export { renderLoadText, renderLoadJson, renderProgressLine, formatDurationMs, fellBehind } from './report-text.js';
export { RawPool, serializeRequest, type RawHandler, type RawRequest, type RawPoolOptions } from './raw-pool.js';
