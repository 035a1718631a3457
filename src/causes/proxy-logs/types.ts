import type { CauseId } from '../catalogue.js';
import type { FastClassification } from '../classify.js';

/**
 * The proxy log formats doctor reads. `nginx` is nginx's error log (and the built-in proxy's);
 * `haproxy` its `option httplog` lines, raw or behind a syslog header; `caddy` Caddy's JSON log;
 * `envoy` Envoy's default access-log format (and Istio's, and JSON with the same operator names);
 * `traefik` Traefik's JSON access log and its `'502 Bad Gateway' caused by: …` debug lines; `alb`
 * the AWS Application Load Balancer access log.
 */
export const PROXY_LOG_FORMATS = ['nginx', 'haproxy', 'caddy', 'envoy', 'traefik', 'alb'] as const;
export type ProxyLogFormat = (typeof PROXY_LOG_FORMATS)[number];

/** How people name each format in messages. */
export const FORMAT_NAMES: Readonly<Record<ProxyLogFormat, string>> = {
  nginx: 'nginx error log',
  haproxy: 'HAProxy httplog',
  caddy: 'Caddy JSON log',
  envoy: 'Envoy access log',
  traefik: 'Traefik access/debug log',
  alb: 'AWS ALB access log',
};

/** What one line of a proxy log is, as a format's classifier sees it. */
export const LINE = {
  /** Not a line of this format. */
  FOREIGN: 0,
  /** A line of this format that is no failure (a 200, a startup notice). */
  OK: 1,
  /** An upstream or proxy failure: `into` holds its classification. */
  FAILURE: 2,
  /** The client went away (HAProxy `CD`, Envoy `DC`, ALB 460, Traefik 499): not the upstream's doing. */
  CLIENT_ABORT: 3,
  /** A 5xx the upstream itself sent (`target_status_code 502`, Envoy `via_upstream`): the app's error, not a proxy cause. */
  APP_ERROR: 4,
  /** A load balancer's health-check request (ELB-HealthChecker, Envoy/HC, kube-probe). */
  HEALTH_CHECK: 5,
} as const;
export type LineKind = (typeof LINE)[keyof typeof LINE];

/** Classifies the lines of one format. One instance per scanner (it may cache). */
export interface FormatClassifier {
  readonly format: ProxyLogFormat;
  /** What the line is; for {@link LINE.FAILURE}, `into` is filled (patternId, causes, status, level, time, upstream). */
  classify(line: string, into: FastClassification): LineKind;
}

/**
 * One way a proxy other than nginx shows an upstream failure in its log: a flag or a field value
 * (HAProxy's termination state `SC`, Envoy's `UF`, Caddy's `dial unix …: resource temporarily
 * unavailable`, ALB's `target_status_code -`). The nginx equivalents are PROXY_LOG_PATTERNS.
 */
export interface ProxySignal {
  /** Stable id, prefixed with the proxy: `haproxy-SC`, `caddy-dial-eagain`, `envoy-UF`, `alb-502-target-closed`. */
  readonly id: string;
  readonly proxy: Exclude<ProxyLogFormat, 'nginx'>;
  /** The flag or field that gives it away, as the proxy writes it: `SC--`, `UF`, `OriginStatus 0, DownstreamStatus 502`. */
  readonly flag: string;
  /** What the client got (typical; a line's own status is counted as written). */
  readonly status: 500 | 502 | 503 | 504 | null;
  /** Causes it can stand for, most likely first. */
  readonly causes: readonly CauseId[];
  /** One line, plain words. */
  readonly meaning: string;
  /** A whole line with this signal. */
  readonly example: string;
  /**
   * `recorded`: the example was written by the real proxy here (HAProxy 2.6.12, Caddy 2.6.2: test
   * fixtures of the lab's runs); `documented`: built field by field from the proxy's documented
   * format at {@link ProxySignal.docs} (Envoy, Traefik and the ALB cannot run here).
   */
  readonly source: 'recorded' | 'documented';
  /** The page that documents the flag or field. */
  readonly docs: string;
}

/** Status the classifier writes into a classification. */
export type GatewayStatus = FastClassification['status'];
