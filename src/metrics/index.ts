/**
 * badgateway's Prometheus vocabulary: the names, types, help and labels the guard and
 * `doctor --prometheus` export, and the mixin (rules, alerts, dashboard) reads.
 */
export {
  METRICS,
  MAX_LABEL_VALUES,
  metricsOf,
  renderMetricsMarkdown,
  type MetricKey,
  type MetricSource,
  type MetricSpec,
} from './vocabulary.js';
