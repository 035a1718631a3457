/**
 * The cause catalogue: the one place that says what each cause of a 502/504 is, what the proxy
 * logs for it, what evidence shows it and how to fix it. Lab, doctor, reports and docs read it.
 */
export { CAUSES, CAUSE_IDS, getCause, isCauseId, type Cause, type CauseId } from './catalogue.js';
export { PROXY_LOG_PATTERNS, UNKNOWN_UPSTREAM_PATTERN, type ProxyLogPattern, type LogLevel } from './patterns.js';
export {
  classifyProxyLogLine,
  mayBeProxyLogLine,
  createProxyLogClassifier,
  type FastClassification,
  type ProxyLogClassifier,
  PROXY_LOG_KEYWORDS,
  parseErrorLogLine,
  matchProxyLogPattern,
  stripErrorLogPrefix,
  type Classification,
  type ErrorLogLine,
} from './classify.js';
export { renderCauseText, renderCausesMarkdown } from './render.js';
export * from './proxy-logs/index.js';
export {
  PROXY_NAMES,
  getProxyView,
  describeSignal,
  causesWithViews,
  type ProxyName,
  type ProxyView,
} from './proxy-views.js';
