import { badOption } from '../errors/index.js';
import { createProxy } from './builtin.js';
import { runCaddy, type CaddyOptions } from './caddy.js';
import { runHaproxy, type HaproxyOptions } from './haproxy.js';
import { findNginx, runNginx, type NginxOptions } from './nginx.js';
import type { ProxyHandle } from './options.js';

/** The proxies badgateway can start: real nginx, HAProxy or Caddy, or the built-in one. */
export const PROXY_KINDS = ['nginx', 'haproxy', 'caddy', 'builtin'] as const;

/** One of {@link PROXY_KINDS}: the one name of a proxy kind, in lab, doctor and reports alike. */
export type ProxyKind = (typeof PROXY_KINDS)[number];

/** {@link ProxyOptions} plus the kind (and each real proxy's own options). */
export interface StartProxyOptions
  extends NginxOptions,
    Omit<HaproxyOptions, keyof NginxOptions>,
    Omit<CaddyOptions, keyof NginxOptions> {
  /** Default `auto`: nginx when installed, else the built-in proxy. */
  kind?: ProxyKind | 'auto';
}

/**
 * Starts the proxy of `kind` with the shared options and returns the common handle. `auto`
 * prefers nginx (the real thing) and falls back to the built-in proxy when nginx is missing;
 * `nginx` without nginx installed is `BG_NO_NGINX` with the install hint; `haproxy` and `caddy` without
 * theirs are `BG_MISSING_TOOL` with theirs.
 */
export async function startProxy(options: StartProxyOptions): Promise<ProxyHandle> {
  const { kind = 'auto', ...rest } = options;
  switch (kind) {
    case 'builtin':
      return createProxy(rest);
    case 'nginx':
      return runNginx(rest);
    case 'haproxy':
      return runHaproxy(rest);
    case 'caddy':
      return runCaddy(rest);
    case 'auto':
      return (rest.nginxPath ?? findNginx()) ? runNginx(rest) : createProxy(rest);
    default:
      throw badOption('kind', kind, 'nginx, haproxy, caddy, builtin or auto');
  }
}
