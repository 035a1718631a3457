/** The demo upstream: a node:http server with failure knobs, in-process or as `badgateway app`. */
export { createDemoApp, type DemoApp, type FdsReport } from './create-demo-app.js';
export {
  spawnDemoApp,
  renderAppArgs,
  CLI_BIN,
  EXIT_WITH_STDIN_ENV,
  type SpawnDemoAppOptions,
  type SpawnedDemoApp,
} from './spawn-demo-app.js';
export {
  DEMO_APP_DEFAULTS,
  DEFAULT_CLI_PORT,
  MAX_SOCKET_PATH_BYTES,
  resolveDemoAppOptions,
  type DemoAppOptions,
  type MetricsSource,
  type ResolvedDemoAppOptions,
} from './options.js';
export { applyFdLimit, MIN_FD_HEADROOM } from './fd-limit.js';
export { createFdLeak, type FdLeak, type LeakResult } from './fd-leak.js';
export { prepareSocketPath, probeUnixSocket } from './socket-file.js';
export { renderListening, renderSettings, LISTENING_LINE } from './render.js';
