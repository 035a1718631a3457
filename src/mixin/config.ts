import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';

/**
 * What a user can change in the mixin, as in a jsonnet mixin's `_config`: label matchers that
 * pick badgateway's series, thresholds (the same defaults as `doctor`'s options), the rate
 * window, `for:` durations per alert rule, where the runbooks live and the dashboard's identity.
 */
export interface MixinConfig {
  /** Label matchers added to every raw badgateway series, e.g. `job=~"app|badgateway-doctor"`. Default none. */
  selector: string;
  /** Window of every rate()/increase() (a Prometheus duration). Default `5m`. */
  rateInterval: string;
  /** fd usage (open / soft limit) that is a warning / critical: doctor's --fd-warning / --fd-critical. */
  fdWarningRatio: number;
  fdCriticalRatio: number;
  /** Accept-queue fill (queue / backlog) that is a warning; full (1) is critical. */
  queueWarningRatio: number;
  /** Idle connections on one listener that make a keep-alive leak: doctor's --idle-sockets. */
  idleConnections: number;
  /** fd usage from which idle connections are critical (they are what holds the fds). */
  idleFdRatio: number;
  /** Share of requests the guard sheds that is a warning / critical (0–1). */
  shedWarningRatio: number;
  shedCriticalRatio: number;
  /** Share of the proxy's responses that are 502/504 that is a warning / critical (0–1). */
  badGatewayWarningRatio: number;
  badGatewayCriticalRatio: number;
  /** Error-log lines of one cause within `rateInterval` that make it critical (fewer: warning): doctor's logCriticalLines. */
  logCriticalLines: number;
  /** The proxy's logs, as named in the alerts' doctor commands. */
  nginxErrorLog: string;
  accessLog: string;
  /** Runbook address; `%s` is replaced by the anchor of the cause's section (its id). */
  runbookUrlPattern: string;
  /** `for:` per alert rule key (see the rule keys in the generated alerts), overriding the defaults. */
  for: Record<string, string>;
  dashboard: { uid: string; title: string; refresh: string; tags: string[] };
}

/** The defaults: what `badgateway mixin` writes without `--config`. */
export const MIXIN_DEFAULTS: Readonly<MixinConfig> = Object.freeze({
  selector: '',
  rateInterval: '5m',
  fdWarningRatio: 0.8,
  fdCriticalRatio: 0.95,
  queueWarningRatio: 0.8,
  idleConnections: 20,
  idleFdRatio: 0.8,
  shedWarningRatio: 0.01,
  shedCriticalRatio: 0.1,
  badGatewayWarningRatio: 0.01,
  badGatewayCriticalRatio: 0.05,
  logCriticalLines: 10,
  nginxErrorLog: '/var/log/nginx/error.log',
  accessLog: '/var/log/nginx/access.log',
  runbookUrlPattern: 'https://www.npmjs.com/package/badgateway#%s',
  for: {},
  dashboard: { uid: 'badgateway-overview', title: 'badgateway / Overview', refresh: '30s', tags: ['badgateway-mixin'] },
});

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;

/** Merges `user` over {@link MIXIN_DEFAULTS} and validates; an unknown key is an error (a typo must not pass silently). */
export function resolveMixinConfig(user: Partial<MixinConfig> = {}): MixinConfig {
  for (const key of Object.keys(user)) {
    if (!(key in MIXIN_DEFAULTS))
      throw badOption(key, (user as Record<string, unknown>)[key], `one of ${Object.keys(MIXIN_DEFAULTS).join(', ')}`);
  }
  const c: MixinConfig = {
    ...MIXIN_DEFAULTS,
    ...user,
    for: { ...user.for },
    dashboard: { ...MIXIN_DEFAULTS.dashboard, ...user.dashboard },
  };
  for (const key of [
    'fdWarningRatio',
    'fdCriticalRatio',
    'queueWarningRatio',
    'idleFdRatio',
    'shedWarningRatio',
    'shedCriticalRatio',
    'badGatewayWarningRatio',
    'badGatewayCriticalRatio',
  ] as const) {
    if (typeof c[key] !== 'number' || !(c[key] > 0 && c[key] <= 1))
      throw badOption(key, c[key], 'a ratio greater than 0 and at most 1');
  }
  for (const key of ['idleConnections', 'logCriticalLines'] as const) {
    if (!Number.isSafeInteger(c[key]) || c[key] < 1) throw badOption(key, c[key], 'an integer ≥ 1');
  }
  if (typeof c.rateInterval !== 'string' || !DURATION.test(c.rateInterval))
    throw badOption('rateInterval', c.rateInterval, 'a Prometheus duration like 5m');
  for (const [key, value] of Object.entries(c.for)) {
    if (typeof value !== 'string' || !(DURATION.test(value) || value === '0'))
      throw badOption(`for.${key}`, value, 'a Prometheus duration like 15m (0s = at once)');
  }
  if (typeof c.selector !== 'string' || /[{}]/.test(c.selector))
    throw badOption('selector', c.selector, 'label matchers without braces, e.g. job="app"');
  if (typeof c.runbookUrlPattern !== 'string' || !c.runbookUrlPattern.includes('%s'))
    throw badOption('runbookUrlPattern', c.runbookUrlPattern, 'a URL with %s where the cause id goes');
  return c;
}

/** Reads a JSON config file (`badgateway mixin --config FILE`). */
export function parseMixinConfig(text: string, file: string): Partial<MixinConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `--config: ${file} is not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, `--config: ${file} must hold a JSON object`);
  return parsed as Partial<MixinConfig>;
}
