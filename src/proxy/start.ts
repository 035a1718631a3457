import { badOption } from '../errors/index.js';
import { createProxy } from './builtin.js';
import { findNginx, runNginx, type NginxOptions } from './nginx.js';
import type { ProxyHandle } from './options.js';

/** Which proxy to start: real nginx, the built-in one, or nginx when installed (else built-in). */
export type ProxyKind = 'nginx' | 'builtin' | 'auto';

/** {@link ProxyOptions} plus the kind. */
export interface StartProxyOptions extends NginxOptions {
  /** Default `auto`. */
  kind?: ProxyKind;
}

/**
 * Starts the proxy of `kind` with the shared options and returns the common handle. `auto`
 * prefers nginx (the real thing) and falls back to the built-in proxy when nginx is missing;
 * `nginx` without nginx installed is `BG_NO_NGINX` with the install hint.
 */
export async function startProxy(options: StartProxyOptions): Promise<ProxyHandle> {
  const { kind = 'auto', ...rest } = options;
  switch (kind) {
    case 'builtin':
      return createProxy(rest);
    case 'nginx':
      return runNginx(rest);
    case 'auto':
      return (rest.nginxPath ?? findNginx()) ? runNginx(rest) : createProxy(rest);
    default:
      throw badOption('kind', kind, 'nginx, builtin or auto');
  }
}
