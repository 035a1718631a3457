import { METRICS, type MetricKey } from '../metrics/index.js';
import type { MixinConfig } from './config.js';

/** One Prometheus recording rule. */
export interface RecordingRule {
  record: string;
  expr: string;
}

/** A rule group as it appears in a rule file. */
export interface RuleGroup<R> {
  name: string;
  rules: R[];
}

/** A raw badgateway series with the user's selector and `matchers` (`kind="unix"`). */
export function series(c: MixinConfig, key: MetricKey, matchers = ''): string {
  const all = [c.selector, matchers].filter((m) => m !== '').join(', ');
  return all === '' ? METRICS[key].name : `${METRICS[key].name}{${all}}`;
}

/**
 * Names of the recorded series, `level:metric:operation` as the Prometheus docs ask: the level
 * says which labels survive, the metric is the raw name (without `_total`), the operation what
 * was done. The rate window is in the name, so it follows the config.
 */
export function recordedNames(c: MixinConfig) {
  const w = c.rateInterval;
  return {
    fdRatio: 'process:badgateway_open_fds:ratio',
    queueRatio: 'listener:badgateway_accept_queue:ratio',
    shedRate: `instance_reason:badgateway_guard_requests_shed:rate${w}`,
    shedRatio: `instance_reason:badgateway_guard_requests_shed:ratio_rate${w}`,
    errorLogRate: `instance_upstream_cause_status:badgateway_proxy_error_log_lines:rate${w}`,
    responsesRate: `instance_status:badgateway_proxy_responses:rate${w}`,
    badGatewayRatio: `instance:badgateway_proxy_bad_gateway_responses:ratio_rate${w}`,
  } as const;
}

/** The recording rules: the ratios and rates the alerts and the dashboard read. */
export function createRecordingRules(c: MixinConfig): RuleGroup<RecordingRule>[] {
  const n = recordedNames(c);
  const w = c.rateInterval;
  const shed = `rate(${series(c, 'guardRequestsShedTotal')}[${w}])`;
  const admitted = `rate(${series(c, 'guardRequestsAdmittedTotal')}[${w}])`;
  return [
    {
      name: 'badgateway.rules',
      rules: [
        // Guard (job, instance) and doctor (job, instance, target) series match one to one.
        { record: n.fdRatio, expr: `${series(c, 'processOpenFds')} / ${series(c, 'processMaxFds')}` },
        // A backlog of 0 would divide to +Inf: such a listener accepts nothing anyway (doctor names it).
        { record: n.queueRatio, expr: `${series(c, 'acceptQueueLength')} / (${series(c, 'acceptBacklog')} > 0)` },
        { record: n.shedRate, expr: `sum by (job, instance, reason) (${shed})` },
        {
          record: n.shedRatio,
          expr: `sum by (job, instance, reason) (${shed}) / on (job, instance) group_left () (sum by (job, instance) (${shed}) + sum by (job, instance) (${admitted}) > 0)`,
        },
        {
          record: n.errorLogRate,
          expr: `sum by (job, instance, upstream, cause, status) (rate(${series(c, 'proxyErrorLogLinesTotal')}[${w}]))`,
        },
        {
          record: n.responsesRate,
          expr: `sum by (job, instance, status) (rate(${series(c, 'proxyResponsesTotal')}[${w}]))`,
        },
        {
          record: n.badGatewayRatio,
          // `or 0 * …`: a proxy with no 502/504 at all reads 0, not nothing.
          expr: `(sum by (job, instance) (${n.responsesRate}{status=~"502|504"}) or 0 * sum by (job, instance) (${n.responsesRate})) / (sum by (job, instance) (${n.responsesRate}) > 0)`,
        },
      ],
    },
  ];
}
