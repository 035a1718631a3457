/**
 * Proxies in front of an upstream: a real nginx, HAProxy or Caddy run on demand ({@link runNginx},
 * {@link runHaproxy}, {@link runCaddy}) and a built-in
 * node:http reverse proxy with nginx's 502/504 semantics and log formats ({@link createProxy}),
 * behind one handle ({@link startProxy}).
 */
export {
  PROXY_DEFAULTS,
  parseUpstream,
  resolveProxyOptions,
  type ProxyHandle,
  type ProxyOptions,
  type ResolvedProxyOptions,
  type Upstream,
} from './options.js';
export {
  chooseWorkerUser,
  findNginx,
  runNginx,
  renderNginxConfig,
  NGINX_INSTALL_HINT,
  NGINX_READY_PATH,
  type NginxHandle,
  type NginxOptions,
} from './nginx.js';
export {
  ACCESS_LOG_FORMAT,
  renderAccessLogLine,
  renderErrorLogLine,
  normalizeErrorLogLine,
  formatErrorLogTime,
  formatTimeLocal,
  type AccessLogVars,
  type ErrorLogEntry,
} from './log-format.js';
export { findFreePort } from './free-port.js';
export {
  findHaproxy,
  runHaproxy,
  renderHaproxyConfig,
  HAPROXY_INSTALL_HINT,
  HAPROXY_LOG_FORMAT,
  type HaproxyHandle,
  type HaproxyOptions,
  type HaproxyLogTarget,
} from './haproxy.js';
export {
  findCaddy,
  runCaddy,
  renderCaddyConfig,
  CADDY_INSTALL_HINT,
  type CaddyHandle,
  type CaddyOptions,
  type CaddyPaths,
} from './caddy.js';
export { type ExternalProxyOptions } from './external.js';
export { openDatagramLog, type DatagramLog } from './datagram-log.js';
export { createProxy, upstreamErrorChannel, type BuiltinProxyHandle } from './builtin.js';
export { startProxy, PROXY_KINDS, type ProxyKind, type StartProxyOptions } from './start.js';
export {
  mapUpstreamError,
  renderErrno,
  PHASE_CONTEXT,
  type UpstreamFailure,
  type UpstreamPhase,
} from './upstream-errors.js';
