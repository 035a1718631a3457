import { connect } from 'node:net';
import { lstat, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { debug } from '../util/index.js';

/**
 * Whether something accepts connections on the unix socket at `path`. Only a refused connect
 * (ECONNREFUSED: a socket file whose listener is gone) or a vanished file counts as "nobody":
 * a full accept queue (EAGAIN) or a permission error means a live listener we must not remove.
 */
export function probeUnixSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (alive: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (err) => {
      const code = errnoCode(err);
      done(!(code === 'ECONNREFUSED' || code === 'ENOENT'));
    });
  });
}

/**
 * Makes `path` ready to listen on: its directory must exist, a stale socket file (nobody
 * answering) is removed, a live one or a non-socket file is an error. Throws `BG_BAD_SOCKET_PATH`
 * or `BG_ADDRESS_IN_USE` naming `--unix-socket` and the path.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  // libuv reports a missing directory as EACCES (Windows compatibility), so look first.
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw socketPathError(path, err);
  }
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw socketPathError(path, err);
  }
  if (!st.isSocket()) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_SOCKET_PATH,
      `--unix-socket ${path}: exists and is not a socket (not removing it)`,
    );
  }
  if (await probeUnixSocket(path)) {
    throw new BadgatewayError(ERROR_CODES.ADDRESS_IN_USE, `--unix-socket ${path}: another process is listening on it`);
  }
  debug('removing stale unix socket %s', path);
  try {
    await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw socketPathError(path, err);
  }
}

/** A failed bind/stat of a unix socket path as one clear line. */
export function socketPathError(path: string, err: unknown): BadgatewayError {
  const code = errnoCode(err);
  const dir = dirname(path);
  const reason =
    code === 'ENOENT'
      ? `directory ${dir} does not exist`
      : code === 'ENOTDIR'
        ? `${dir} is not a directory`
        : code === 'EACCES' || code === 'EPERM'
          ? `cannot create a socket in ${dir}: permission denied`
          : code === 'EROFS'
            ? `${dir} is on a read-only file system`
            : code === 'EADDRINUSE'
              ? 'another process is listening on it'
              : `cannot listen: ${code ?? String(err)}`;
  return new BadgatewayError(
    code === 'EADDRINUSE' ? ERROR_CODES.ADDRESS_IN_USE : ERROR_CODES.BAD_SOCKET_PATH,
    `--unix-socket ${path}: ${reason}`,
    {
      cause: err,
    },
  );
}
