/**
 * The load area: an open-loop, constant-rate HTTP load generator (vegeta's pipeline on undici).
 * Targets → Pacer → Attacker → results (NDJSON) → Metrics (HDR histograms) → reporters.
 */
export { runLoad, type LoadRunMetrics } from './run-load.js';
export {
  LOAD_DEFAULTS,
  LOAD_ENGINES,
  START_AT_LIMITS,
  checkStartAt,
  parseStartAt,
  parseRateShare,
  resolveLoadOptions,
  type LoadEngine,
  type LoadOptions,
  type LoadProgress,
  type ResolvedLoadOptions,
} from './options.js';
export {
  checkUrl,
  createTarget,
  createTargeter,
  parseTargets,
  readBodyFile,
  readTargetsFile,
  DEFAULT_METHOD,
  UNIX_SOCKET_URL,
  type Target,
  type TargetNaming,
  type TargetSpec,
  type Targeter,
} from './targets.js';
export {
  createConstantPacer,
  createSharePacer,
  createOpenLoop,
  createLoopClock,
  LATE_STOP_MIN_MS,
  MAX_BATCH,
  type LoopClock,
  type OpenLoop,
  type OpenLoopTarget,
  type Pacer,
  type RateShare,
} from './pacer.js';
export { runAttack, RESULT_CHANNEL, type AttackSummary } from './attacker.js';
export { LOAD_ERROR_CODES, classifyError, toLoadErrorCode, type LoadErrorCode } from './error-codes.js';
export {
  encodeResult,
  decodeResult,
  encodeHeader,
  decodeHeader,
  RESULTS_SCHEMA,
  type LoadResult,
  type ResultsHeader,
} from './result.js';
export {
  createResultsWriter,
  openResultsFile,
  readResults,
  readResultsHeader,
  STDIO_PATH,
  type OpenResultsFile,
  type ResultsWriter,
  type ResultsWriterOptions,
  type ReadStats,
  type ReadResultsOptions,
} from './results-file.js';
export { summarizeResultFiles, type ResultsSummary, type ResultsSources, type SummarizeOptions } from './summarize.js';
export {
  createMetrics,
  type Metrics,
  type LoadMetrics,
  type LatencySummaryMs,
  type TimelineBucket,
} from './metrics.js';
export { RawPool, serializeRequest, type RawHandler, type RawRequest, type RawPoolOptions } from './raw-pool.js';
