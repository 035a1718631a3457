/**
 * `badgateway doctor`: collectors (src/proc, logs) → findings (cause ids of src/causes, evidence,
 * fix) → verdict. Library surface; the CLI in src/cli/commands/doctor.ts only parses and prints.
 */
export {
  runDoctor,
  createDoctorSampler,
  buildReport,
  rootCauseOf,
  DOCTOR_SCHEMA,
  type DoctorReport,
  type DoctorSampler,
  type RootCause,
} from './diagnose.js';
export { DOCTOR_DEFAULTS, resolveDoctorOptions, type DoctorOptions } from './options.js';
export {
  createFinding,
  fillConfirm,
  rankFindings,
  severityOf,
  type Finding,
  type Severity,
  type FindingSource,
  type ConfirmValues,
} from './findings.js';
export { evaluateLiveRules } from './rules.js';
export { evaluateErrorLog, readingsOf, type LogContext, type RuledOut } from './log-rules.js';
export {
  parseNginxConfig,
  loadNginxConfig,
  parseNginxTime,
  dumpSource,
  diskSource,
  parseServerAddress,
  proxyPassTarget,
  findUpstream,
  type NginxConfigFacts,
  type NginxUpstream,
  type NginxServer,
  type NginxDirective,
} from './nginx-config.js';
export {
  findRunningNginx,
  parseMasterCommandLine,
  dumpRunningConfig,
  type RunningNginx,
  type RunningWorker,
} from './nginx-running.js';
export { loadProxyContext, resolveWorkerIdentity, type ProxyContext, type ProxyConfig } from './proxy-context.js';
export {
  checkSocketAccess,
  readAccountDb,
  resolveUserSpec,
  type WorkerIdentity,
  type SocketAccess,
  type AccountDb,
} from '../proc/index.js';
export {
  summarizeAppLogs,
  readKernelCrashes,
  CrashCounter,
  APP_CRASH_PATTERNS,
  KERNEL_CRASH_PATTERNS,
  type CrashLogSummary,
  type CrashSummary,
  type CrashKind,
} from './app-log.js';
export type { FdHolders } from './holders.js';
export {
  collectFacts,
  type DoctorFacts,
  type TargetFacts,
  type ListenerFacts,
  type ProcessFacts,
  type ConnectionFacts,
  type MachineFacts,
} from './collectors.js';
export {
  summarizeErrorLogs,
  summarizeProxyLogs,
  mergeErrorLogSummaries,
  ErrorLogAggregator,
  normalizeUpstream,
  ERROR_LOG_SUMMARY_DEFAULTS,
  READ_LOG_DEFAULTS,
  type LogWorkerJob,
  type LogFileEntry,
  type ProxyLogInput,
  type ErrorLogSummary,
  type PatternSummary,
  type ErrorLogSummaryOptions,
  type ReadLogOptions,
} from './error-log.js';
export {
  summarizeAccessLogs,
  parseAccessLogLine,
  AccessLogAggregator,
  type AccessLogFormat,
  type AccessLogRecord,
  type AccessLogSummary,
  type AccessLogUpstream,
} from './access-log.js';
export { LineSplitter, readLines, latin1ToUtf8, type ReadLinesOptions, type LineHandler } from './lines.js';
export { probeKeepAlive, parseKeepAliveTimeout, type KeepAliveProbe } from './probe.js';
export { escapeForTerminal, renderDoctorText, renderWatchLine, renderMostLikely, renderFinding } from './render.js';
export {
  followErrorLog,
  runFollow,
  createUpstreamSampler,
  sampleTargets,
  FOLLOW_DEFAULTS,
  type FollowOptions,
  type FollowEvent,
  type FollowSample,
  type Incident,
} from './follow.js';
export { tailFile, type TailOptions } from './tail.js';
export { createDoctorMetrics, startMetricsServer, type DoctorMetrics, type MetricsServer } from './metrics.js';
export type { CountEntry } from './counter.js';
