import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { debug, sleep } from '../util/index.js';

/**
 * A unix datagram socket that a proxy logs to as to syslog (`/dev/log` style), each datagram
 * appended to a file as one line. Node has no AF_UNIX SOCK_DGRAM of its own: the optional
 * dependency `node-unix-socket` (prebuilt, no compiler needed) provides it.
 */
export interface DatagramLog {
  /** The socket's path. */
  readonly path: string;
  /** Datagrams received so far. */
  readonly received: number;
  /** Resolves once the datagrams already queued on the socket are in the file. */
  flush(): Promise<void>;
  /** Closes the socket (removing its file) and the file. */
  close(): Promise<void>;
}

interface DgramSocketLike {
  bind(path: string): void;
  on(event: 'data', listener: (data: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  setRecvBufferSize(size: number): void;
  close(): void;
}

const require = createRequire(import.meta.url);

function loadDgramSocket(): new () => DgramSocketLike {
  try {
    return (require('node-unix-socket') as { DgramSocket: new () => DgramSocketLike }).DgramSocket;
  } catch (err) {
    throw new BadgatewayError(ERROR_CODES.MISSING_TOOL, 'unix datagram sockets need the optional dependency node-unix-socket, which is not installed', {
      cause: err,
      hint: 'npm install node-unix-socket, or let HAProxy log to its stdout (the default)',
    });
  }
}

/** Binds `socketPath` and appends every datagram (a trailing newline stripped) plus `\n` to `file`. */
export async function openDatagramLog(socketPath: string, file: string): Promise<DatagramLog> {
  const DgramSocket = loadDgramSocket();
  const out = createWriteStream(file, { flags: 'a' });
  await new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  const socket = new DgramSocket();
  let received = 0;
  let pending = 0;
  let drained: (() => void)[] = [];
  socket.on('data', (data) => {
    received += 1;
    pending += 1;
    const end = data.length > 0 && data[data.length - 1] === 0x0a ? data.length - 1 : data.length;
    out.write(Buffer.concat([data.subarray(0, end), NEWLINE]), () => {
      pending -= 1;
      if (pending === 0) for (const resolve of drained.splice(0)) resolve();
    });
  });
  socket.on('error', (err) => debug('datagram log %s: %o', socketPath, err));
  try {
    socket.bind(socketPath);
    // A burst of log lines must not overflow the default ~200 KiB receive buffer.
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch (err) {
    out.destroy();
    throw new BadgatewayError(ERROR_CODES.BAD_SOCKET_PATH, `cannot bind the log socket ${socketPath}: ${(err as Error).message}`, { cause: err });
  }
  let closed = false;
  const flush = async (): Promise<void> => {
    // Datagrams the kernel holds are delivered on the next turns of the event loop.
    await sleep(20);
    if (pending > 0) await new Promise<void>((resolve) => drained.push(resolve));
  };
  return {
    path: socketPath,
    get received() {
      return received;
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      await flush();
      socket.close();
      drained = [];
      await new Promise<void>((resolve) => out.end(resolve));
      await rm(socketPath, { force: true });
    },
  };
}

const NEWLINE = Buffer.from('\n');
