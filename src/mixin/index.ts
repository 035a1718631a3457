/**
 * The monitoring mixin: Prometheus recording and alerting rules and a Grafana dashboard over the
 * metrics of the guard and `doctor --prometheus` (src/metrics), one alert per cause of the
 * catalogue (src/causes). `badgateway mixin --out DIR` writes it.
 */
export { MIXIN_DEFAULTS, resolveMixinConfig, parseMixinConfig, type MixinConfig } from './config.js';
export { createRecordingRules, recordedNames, series, type RecordingRule, type RuleGroup } from './rules.js';
export {
  createAlertDefinitions,
  createAlertGroups,
  alertCoverage,
  alertNameOf,
  logCauses,
  type AlertDefinition,
  type AlertingRule,
} from './alerts.js';
export { createDashboard, dashboardExpressions, type Panel } from './dashboard.js';
export {
  renderMixinFiles,
  renderRunbooksMarkdown,
  renderAlertsMarkdown,
  MIXIN_FILES,
  type MixinFile,
} from './render.js';
export { writeMixinFiles } from './write.js';
