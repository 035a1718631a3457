/**
 * The lab: reproduces each cause of a 502/504 end to end behind a real proxy (fail phase), then
 * shows the fix holds (fix phase), measuring what the client, the proxy and the upstream saw.
 */
export {
  runLab,
  resolveLabOptions,
  planRuns,
  chooseProxy,
  chooseProxies,
  LAB_DEFAULTS,
  type LabOptions,
  type LabEvent,
  type LabRun,
} from './run-lab.js';
export { SCENARIOS, getScenario } from './scenarios.js';
export {
  runPhase,
  classifyErrorLog,
  logFormatOf,
  phaseLoadOptions,
  type PhaseEnv,
  type PhaseProgress,
} from './phase.js';
export { judgeFailPhase, judgeFixPhase, causeStatuses } from './verdict.js';
export { createRaceServer, type RaceServer, type RaceServerOptions, type RaceServerStats } from './race-server.js';
export { openIdleClients, type IdleClients, type IdleClientsOptions, type IdleClientsStats } from './idle-clients.js';
export {
  spawnPythonApp,
  checkPythonServers,
  SYSTEM_PYTHON,
  type PythonApp,
  type PythonAppOptions,
  type PythonServer,
} from './python-apps.js';
export { spawnNodeApp, CLOSE_WAIT_APP, CRASH_APP, type NodeApp, type NodeAppOptions } from './node-apps.js';
export { loadParts, type LabParts } from './parts.js';
export type { Scenario, ScenarioPlan, PhaseSpec, UpstreamSpec } from './scenario.js';
export * from './types.js';
