import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { debug, which } from '../util/index.js';

/**
 * A unix datagram socket that a proxy logs to as to syslog (`/dev/log` style), each datagram
 * appended to a file as one line. Node has no AF_UNIX SOCK_DGRAM of its own, and the npm packages
 * that add one ship prebuilt binaries for some platforms only (a lock file then cannot be made
 * whole for `npm ci`): a few lines of Python's standard library, in a child process, read the
 * socket instead. Python 3 is on every Debian/Ubuntu machine (its absence is one clear error; the
 * proxy's stdout logging needs nothing).
 */
export interface DatagramLog {
  /** The socket's path. */
  readonly path: string;
  /** Datagrams written to the file, as of the last {@link flush}. */
  readonly received: number;
  /** Resolves once the datagrams already queued on the socket are in the file. */
  flush(): Promise<void>;
  /** Closes the socket (removing its file) and the reader. */
  close(): Promise<void>;
}

/**
 * The reader: binds the socket (4 MiB receive buffer: a burst of log lines must not overflow the
 * default ~200 KiB), appends each datagram as a line, answers `flushed N` to a line on stdin after
 * draining what the kernel holds, and exits at stdin's end (its owner gone, however it died).
 */
const READER = `
import os, select, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(path)
f = open(out, 'ab', buffering=0)
n = 0
def drain():
    global n
    while True:
        try:
            d = s.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        f.write(d.rstrip(b'\\n') + b'\\n')
        n += 1
sys.stdout.write('ready\\n'); sys.stdout.flush()
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if s in r:
        drain()
    if sys.stdin in r:
        line = sys.stdin.readline()
        drain()
        if not line:
            break
        sys.stdout.write('flushed %d\\n' % n); sys.stdout.flush()
s.close()
os.unlink(path)
`;

/** Binds `socketPath` and appends every datagram (a trailing newline stripped) plus `\n` to `file`. */
export async function openDatagramLog(socketPath: string, file: string): Promise<DatagramLog> {
  const python = which('python3');
  if (!python) {
    throw new BadgatewayError(
      ERROR_CODES.MISSING_TOOL,
      'reading a unix datagram log socket needs python3, which is not installed',
      {
        hint: 'apt-get install python3, or let HAProxy log to its stdout (the default)',
      },
    );
  }
  const child = spawn(python, ['-c', READER, socketPath, file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(n: number) => void> = [];
  let received = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(
        new BadgatewayError(
          ERROR_CODES.BAD_SOCKET_PATH,
          `cannot bind the log socket ${socketPath}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`,
        ),
      ),
    );
    child.once('error', reject);
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      const flushed = /^flushed (\d+)$/.exec(line);
      if (flushed) waiting.shift()?.(Number(flushed[1]));
    });
  });
  await ready;
  child.stdin!.on('error', (err) => debug('datagram log %s: %o', socketPath, err));
  let closed = false;
  const flush = async (): Promise<void> => {
    if (closed || child.exitCode !== null) return;
    received = await new Promise<number>((resolve) => {
      waiting.push(resolve);
      child.stdin!.write('flush\n');
    });
  };
  return {
    path: socketPath,
    get received() {
      return received;
    },
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      if (child.exitCode === null && child.signalCode === null) await exited;
      clearTimeout(timer);
      await rm(socketPath, { force: true });
    },
  };
}
