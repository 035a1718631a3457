import { readFileSync } from 'node:fs';
import type { DemoApp } from './create-demo-app.js';

/** The ready line: `listening on http://127.0.0.1:PORT` or `listening on unix:PATH`. */
export function renderListening(app: Pick<DemoApp, 'url'>): string {
  return `listening on ${app.url}`;
}

/** Pattern of the ready line; group 1 is the url. */
export const LISTENING_LINE = /^listening on (http:\/\/\S+|unix:\S+)$/;

function somaxconn(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The settings line printed after the ready line, e.g. `pid 42, backlog 511, keep-alive timeout 5000 ms, async, work 0 ms, fd limit 1024`. */
export function renderSettings(app: Pick<DemoApp, 'pid' | 'options'>, fdLimit: number | null | undefined): string {
  const { backlog, keepAliveTimeoutMs, sync, workMs } = app.options;
  const max = somaxconn();
  const capped = max !== undefined && backlog > max ? ` (capped to net.core.somaxconn ${max})` : '';
  return [
    `pid ${app.pid}`,
    `backlog ${backlog}${capped}`,
    `keep-alive timeout ${keepAliveTimeoutMs === 0 ? 'never' : `${keepAliveTimeoutMs} ms`}`,
    sync ? 'sync (each request blocks the event loop)' : 'async',
    `work ${workMs} ms`,
    `fd limit ${fdLimit === null ? 'unlimited' : String(fdLimit ?? '?')}`,
  ].join(', ');
}
