import { createServer } from 'node:net';
import { listen } from '../util/index.js';

/**
 * A port that was free a moment ago on `host`: bind to port 0, read the port, close. nginx cannot
 * listen on port 0 itself, so whoever starts it must retry when another process wins the race.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.unref();
  await listen(server, { host, port: 0, exclusive: true });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
