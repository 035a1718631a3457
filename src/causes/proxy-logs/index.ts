/**
 * Proxy logs other than nginx's error log, read into the same cause catalogue: HAProxy's httplog
 * termination states, Caddy's and Traefik's Go errors, Envoy's response flags, the ALB's status
 * fields. Each format has a line classifier; `auto` sniffs the format line by line.
 */
export {
  PROXY_LOG_FORMATS,
  FORMAT_NAMES,
  LINE,
  type ProxyLogFormat,
  type LineKind,
  type FormatClassifier,
  type ProxySignal,
} from './types.js';
export { PROXY_SIGNALS, TRAP_EXAMPLES, SIGNAL_DOCS, getSignal, findSignal, UNKNOWN_SIGNAL } from './signals.js';
export { RECORDED_EXAMPLES } from './recorded.js';
export { GO_ERROR_KINDS, matchGoError, type GoErrorKind } from './go-errors.js';
export {
  createLogLineClassifier,
  createFormatClassifier,
  describeFormats,
  type LogLineClassifier,
  type ProxyLogFormatChoice,
  type SniffedLine,
} from './sniff.js';
export { looksLikeNginxErrorLine } from './nginx.js';
export { CLF_MONTHS, fromClfTime, fromIsoTime, fromEpochSeconds } from './time.js';
export { describeLogLine } from './describe.js';
