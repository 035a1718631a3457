/**
 * badgateway/guard — keeps a Node server from causing the 502/504s a proxy returns: sheds load
 * with 503 + Retry-After before fds, the event loop, concurrency or heap run out; hardens
 * keep-alive timeouts against the proxy's; reaps idle keep-alive sockets under fd pressure.
 * No dependency beyond Node; framework adapters and the prom-client collector are typed
 * structurally, so those packages stay optional peers.
 */
export { createGuard, type Guard, type GuardMetrics } from './guard.js';
export {
  GUARD_DEFAULTS,
  resolveGuardOptions,
  type GuardHook,
  type GuardOptions,
  type GuardRequest,
  type ResolvedGuardOptions,
} from './options.js';
export { SHED_REASONS, SHED_REASON_LIST, createShedResponse, type ShedReason, type ShedResponse } from './reasons.js';
export {
  hardenServer,
  checkServerTimeouts,
  readServerTimeouts,
  HARDEN_DEFAULTS,
  TIMEOUT_WARNINGS,
  type HardenOptions,
  type HardenResult,
  type ServerTimeouts,
  type TimeoutWarning,
  type TimeoutWarningCode,
} from './harden.js';
export { createSocketTracker, type SocketTracker, type SocketTrackerHooks } from './socket-tracker.js';
export { expressGuard, type ExpressGuardMiddleware } from './adapters/express.js';
export { fastifyGuard, type FastifyGuardOptions, type FastifyLike, type FastifyReplyLike } from './adapters/fastify.js';
export { koaGuard, type KoaGuardMiddleware, type KoaLikeContext } from './adapters/koa.js';
export { honoGuard, type HonoGuardMiddleware, type HonoLikeContext } from './adapters/hono.js';
export type { GuardOrOptions } from './adapters/common.js';
export {
  registerGuardMetrics,
  GUARD_METRIC_NAMES,
  type PromClientLike,
  type PromCollectorOptions,
} from './prometheus.js';
