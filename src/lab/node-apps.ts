import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { debug, terminateChild, which } from '../util/index.js';

/*
 * Small Node upstreams with one bug each, run as child processes (the lab samples their fds and
 * reads their stderr as an engineer would). Each watches its stdin: when the lab dies, the pipe
 * closes and the app exits, so nothing outlives the lab.
 */

/** Exits when the parent's pipe on stdin closes. */
const WATCH_PARENT = `process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();`;

/**
 * An HTTP/1.1 server on node:net that keeps every connection in a registry and never closes one
 * when the peer closes its end (allowHalfOpen, no end() on 'end'): the proxy's closed connections
 * sit in CLOSE_WAIT, one fd each, until RLIMIT_NOFILE is reached. Fixed, it ends the socket when the
 * peer has ended its side, and forgets it.
 */
export const CLOSE_WAIT_APP = `${WATCH_PARENT}
const net = require('node:net');
const fixed = process.argv[1] === 'fixed';
const registry = new Set();
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  registry.add(socket);
  let head = '';
  socket.on('data', (d) => {
    head += d;
    if (!head.includes('\\r\\n\\r\\n')) return;
    head = '';
    socket.write('HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: 3\\r\\n\\r\\nok\\n');
  });
  socket.on('end', () => {
    if (!fixed) return; // the bug: the peer closed, the app never does
    socket.end();
    registry.delete(socket);
  });
  socket.on('error', () => registry.delete(socket));
});
server.on('error', (err) => { if (err.code !== 'EMFILE') throw err; });
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/**
 * A node:cluster app (the shape pm2's cluster mode runs): a primary forks four workers and forks a
 * new one whenever one exits. \`/crash\` throws in the middle of the request, after the request was
 * read: unfixed, the exception is uncaught and ends the worker (the proxy reads EOF: 502); fixed,
 * an error handler answers 500 and the worker lives.
 */
export const CRASH_APP = `${WATCH_PARENT}
const cluster = require('node:cluster');
const http = require('node:http');
const fixed = process.argv[1] === 'fixed';
if (cluster.isPrimary) {
  let told = false;
  let stopping = false;
  process.on('exit', () => { stopping = true; for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL'); });
  cluster.on('exit', () => { if (!stopping) cluster.fork(); });
  cluster.on('listening', (_w, address) => {
    if (told) return;
    told = true;
    console.log(JSON.stringify({ port: address.port }));
  });
  for (let i = 0; i < 4; i++) cluster.fork();
} else {
  http.createServer((req, res) => {
    setTimeout(() => {
      try {
        if (req.url.startsWith('/crash')) throw new Error('boom: the handler failed in the middle of ' + req.url);
        res.end('ok\\n');
      } catch (err) {
        if (!fixed) throw err; // the bug: nothing catches it, the worker dies with the request
        console.error('request failed:', err.message);
        res.statusCode = 500;
        res.end('internal error\\n');
      }
    }, 50);
  }).listen(0, '127.0.0.1');
}
`;

/** Which app, and whether its bug is fixed. */
export interface NodeAppOptions {
  app: 'close-wait' | 'crash';
  fixed: boolean;
  /** RLIMIT_NOFILE (soft = hard) via prlimit. */
  fdLimit?: number;
}

/** A running node app child. */
export interface NodeApp {
  pid: number;
  port: number;
  url: string;
  /** Everything it wrote to stderr (the last 64 KiB). */
  readonly stderr: string;
  close(): Promise<void>;
}

/** Starts one of the apps and resolves once it listens (its first stdout line). */
export async function spawnNodeApp(options: NodeAppOptions): Promise<NodeApp> {
  const script = options.app === 'close-wait' ? CLOSE_WAIT_APP : CRASH_APP;
  const node = [process.execPath, '-e', script, options.fixed ? 'fixed' : 'bug'];
  let argv = node;
  if (options.fdLimit !== undefined) {
    const prlimit = which('prlimit');
    if (!prlimit)
      throw new BadgatewayError(ERROR_CODES.NO_PRLIMIT, 'prlimit is not installed (apt-get install util-linux)');
    argv = [prlimit, `--nofile=${options.fdLimit}:${options.fdLimit}`, ...node];
  }
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-64 * 1024)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = (): Promise<void> => terminateChild(child, exited, 'SIGTERM', 2000);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new BadgatewayError(ERROR_CODES.CHILD_FAILED, `${options.app} app did not start in 10 s: ${stderr}`)),
      10_000,
    );
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new BadgatewayError(ERROR_CODES.CHILD_FAILED, `${options.app} app said ${line}`));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(
        new BadgatewayError(
          ERROR_CODES.CHILD_FAILED,
          `${options.app} app exited before listening: ${stderr.trim().split('\n').pop() ?? ''}`,
        ),
      );
    });
  }).catch(async (err: unknown) => {
    await close();
    throw err;
  });
  debug('lab: started %s app pid %d on port %d', options.app, child.pid, port);
  return {
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    get stderr() {
      return stderr;
    },
    close,
  };
}
