import { createServer } from 'node:net';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { readUnprivilegedPortStart } from '../proc/index.js';
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

/**
 * Why binding 127.0.0.1:`port` failed, said as it is: in use, or a privileged port for a process
 * that is not root. Anything else names the errno.
 */
export function listenError(err: unknown, port: number, host = '127.0.0.1'): BadgatewayError {
  const code = errnoCode(err);
  if (code === 'EADDRINUSE') {
    return new BadgatewayError(ERROR_CODES.ADDRESS_IN_USE, `${host}:${port} is already in use`, {
      cause: err,
      hint: '--port 0 picks a free port',
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new BadgatewayError(
      ERROR_CODES.PERMISSION,
      `binding ${host}:${port} needs root (ports below ${readUnprivilegedPortStart()})`,
      {
        cause: err,
        hint: `run as root, pick a port from ${readUnprivilegedPortStart()} up, or --port 0 for a free one`,
      },
    );
  }
  return new BadgatewayError(ERROR_CODES.BAD_OPTION, `cannot listen on ${host}:${port} (${code ?? String(err)})`, {
    cause: err,
  });
}

/**
 * Binds `port` for a moment and lets it go, so a proxy that cannot listen there fails at once with
 * the real reason ({@link listenError}) instead of its own retries or its own words (nginx says
 * `bind() failed` after 2.5 s).
 */
export async function checkListenPort(port: number, host = '127.0.0.1'): Promise<void> {
  const server = createServer();
  try {
    await listen(server, { host, port, exclusive: true });
  } catch (err) {
    throw listenError(err, port, host);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
