import { once } from 'node:events';
import type { ListenOptions, Server } from 'node:net';

/**
 * `server.listen(options)` as a promise: resolves once the server is bound, rejects with the
 * listen error itself (`EADDRINUSE`, `EACCES`, …) so callers map it in their own words. No
 * listener is left on the server either way.
 */
export async function listen(server: Server, options: ListenOptions): Promise<void> {
  const listening = once(server, 'listening');
  server.listen(options);
  await listening;
}
