import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { debug, terminateChild, waitFor, which } from '../util/index.js';

/** Debian's interpreter: its site-packages hold gunicorn, uvicorn and gevent (the python3 first on PATH may not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The Python app servers the seeds ran on. */
export type PythonServer = 'gunicorn' | 'uvicorn' | 'gevent';

/**
 * The seed 002 app: a WSGI app that blocks its sync worker for `BG_WORK_MS` per request, like the
 * seed's `time.sleep`.
 */
export const GUNICORN_APP = `import os, time

WORK_S = float(os.environ.get("BG_WORK_MS", "10")) / 1000


def app(environ, start_response):
    time.sleep(WORK_S)
    body = b"ok\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`;

/**
 * The seed 000 app as a plain ASGI app (no FastAPI needed): /leak opens files and never closes them.
 * With BG_FD_GUARD_RATIO set, the seed's middleware is on: at that share of RLIMIT_NOFILE it answers
 * 503 + Retry-After before doing any work.
 */
export const ASGI_APP = `import os, resource
from urllib.parse import parse_qs

LEAKED = []
GUARD_RATIO = float(os.environ.get("BG_FD_GUARD_RATIO", "0"))
SOFT_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return SOFT_LIMIT


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())] + list(headers)})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if GUARD_RATIO > 0 and open_fds() >= GUARD_RATIO * SOFT_LIMIT:
        await respond(send, 503, b"shed: too many open files\\n", [(b"retry-after", b"5"), (b"connection", b"close")])
        return
    if scope["path"] == "/leak":
        n = int(parse_qs(scope["query_string"].decode()).get("n", ["1"])[0])
        try:
            for _ in range(min(n, 10000)):
                LEAKED.append(open("/dev/null"))
        except OSError as err:
            await respond(send, 500, ("leak failed: %s\\n" % err).encode())
            return
        await respond(send, 200, ("leaked %d\\n" % len(LEAKED)).encode())
        return
    await respond(send, 200, b"ok\\n")
`;

/**
 * The seed 001 server: gevent's pywsgi on a unix socket. pywsgi has no idle timeout for keep-alive
 * connections (the leak); with a timeout given, the seed's fix is on: a handler that gives each
 * connection that long, then closes it.
 */
export const GEVENT_APP = `from gevent import monkey
monkey.patch_all()

import os, socket, sys
import gevent
from gevent.pywsgi import WSGIServer, WSGIHandler

PATH = sys.argv[1]
TIMEOUT_S = float(sys.argv[2])


class TimeoutHandler(WSGIHandler):
    def handle(self):
        timeout = gevent.Timeout.start_new(TIMEOUT_S)
        try:
            WSGIHandler.handle(self)
        except gevent.Timeout as ex:
            if ex is not timeout:
                raise
        finally:
            timeout.close()


def app(environ, start_response):
    body = b"ok\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if os.path.exists(PATH):
    os.unlink(PATH)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(PATH)
os.chmod(PATH, 0o666)
listener.listen(128)
server = WSGIServer(listener, app, handler_class=TimeoutHandler if TIMEOUT_S > 0 else WSGIHandler, log=None)
server.serve_forever()
`;

/**
 * Runs a module or script as `__main__` after starting a thread that watches stdin: the lab keeps a
 * pipe there, so when the lab dies (even by SIGKILL) the pipe closes and the server stops itself
 * (SIGINT, then exit after 2 s: gevent's hub swallows the SIGINT) instead of living on as an orphan.
 * gunicorn's workers notice their master is gone and exit too.
 */
export const LAUNCHER = `import os, runpy, signal, sys, threading
from time import sleep as real_sleep  # bound before gevent's monkey.patch_all() swaps time.sleep


def watch_parent():
    while os.read(0, 512):
        pass
    os.kill(os.getpid(), signal.SIGINT)
    real_sleep(2)
    os._exit(1)


threading.Thread(target=watch_parent, daemon=True).start()
kind, target = sys.argv[1], sys.argv[2]
sys.argv = [target] + sys.argv[3:]
if kind == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
`;

/** Options of {@link spawnPythonApp}. */
export interface PythonAppOptions {
  server: PythonServer;
  /** Directory for the app file (the lab's temp dir). */
  dir: string;
  /** Unix socket to listen on (mode 0666: nginx's workers may run as nobody). */
  unixSocket: string;
  /** RLIMIT_NOFILE (soft = hard) via prlimit; undefined = inherited. */
  fdLimit?: number;
  /** gunicorn: listen backlog. */
  backlog?: number;
  /** gunicorn: sync workers. */
  workers?: number;
  /** gunicorn: time each request blocks its worker, in ms. */
  workMs?: number;
  /** gunicorn: --timeout, s (a worker silent this long is killed: WORKER TIMEOUT). Default gunicorn's 30. */
  timeoutS?: number;
  /** uvicorn: shed with 503 at this share of the fd limit (the seed's middleware); 0 = off. */
  fdGuardRatio?: number;
  /** gevent: per-connection timeout of the seed's handler, in ms; 0 = none (pywsgi's default). */
  connectionTimeoutMs?: number;
  /** Wait this long for the socket to accept connections. Default 10 s. */
  readyTimeoutMs?: number;
}

/** A Python app server child process. */
export interface PythonApp {
  readonly pid: number;
  /** `unix:/path` */
  readonly url: string;
  readonly unixSocket: string;
  /** Pid to sample for fds: the worker for gunicorn, the server otherwise. */
  samplePid(): Promise<number>;
  /** The last 64 KiB of the server's stderr. */
  readonly stderr: string;
  /** Lines of stderr that say "Too many open files". */
  readonly emfileLines: number;
  close(): Promise<void>;
}

const STDERR_KEEP = 64 * 1024;

function commandFor(options: PythonAppOptions): {
  file: string;
  source: string;
  args: string[];
  env: NodeJS.ProcessEnv;
} {
  switch (options.server) {
    case 'gunicorn':
      return {
        file: 'seed002_app.py',
        source: GUNICORN_APP,
        args: [
          '-m',
          'gunicorn',
          '-k',
          'sync',
          '-w',
          String(options.workers ?? 1),
          '--backlog',
          String(options.backlog ?? 2048),
          '--bind',
          `unix:${options.unixSocket}`,
          '--umask',
          '0',
          '--chdir',
          options.dir,
          '--log-level',
          'warning',
          ...(options.timeoutS !== undefined ? ['--timeout', String(options.timeoutS)] : []),
          'seed002_app:app',
        ],
        env: { BG_WORK_MS: String(options.workMs ?? 10) },
      };
    case 'uvicorn':
      return {
        file: 'seed000_app.py',
        source: ASGI_APP,
        args: [
          '-m',
          'uvicorn',
          'seed000_app:app',
          '--uds',
          options.unixSocket,
          '--app-dir',
          options.dir,
          '--lifespan',
          'off',
          '--no-access-log',
          '--log-level',
          'warning',
        ],
        env: { BG_FD_GUARD_RATIO: String(options.fdGuardRatio ?? 0) },
      };
    case 'gevent':
      return {
        file: 'seed001_server.py',
        source: GEVENT_APP,
        args: [
          `${options.dir}/seed001_server.py`,
          options.unixSocket,
          String((options.connectionTimeoutMs ?? 0) / 1000),
        ],
        env: {},
      };
  }
}

/** Whether `/usr/bin/python3` can import each server's module; the reason when not. */
export async function checkPythonServers(): Promise<Record<PythonServer, string | undefined>> {
  const result: Record<PythonServer, string | undefined> = {
    gunicorn: `${SYSTEM_PYTHON} not found`,
    uvicorn: `${SYSTEM_PYTHON} not found`,
    gevent: `${SYSTEM_PYTHON} not found`,
  };
  if (!which(SYSTEM_PYTHON)) return result;
  const script =
    'import importlib\nfor m in ("gunicorn", "uvicorn", "gevent"):\n    try:\n        importlib.import_module(m); print(m, "ok")\n    except Exception as e:\n        print(m, "missing")\n';
  const out = await new Promise<string>((resolve) => {
    execFile(SYSTEM_PYTHON, ['-c', script], { timeout: 10_000 }, (_err, stdout) => resolve(String(stdout)));
  });
  const packages: Record<PythonServer, string> = {
    gunicorn: 'gunicorn',
    uvicorn: 'python3-uvicorn',
    gevent: 'python3-gevent',
  };
  for (const server of ['gunicorn', 'uvicorn', 'gevent'] as const) {
    result[server] = new RegExp(`^${server} ok$`, 'm').test(out)
      ? undefined
      : `${SYSTEM_PYTHON} cannot import ${server} (apt-get install ${packages[server]})`;
  }
  if (!which('prlimit')) {
    for (const server of ['uvicorn', 'gevent'] as const)
      result[server] ??= 'prlimit is not installed (apt-get install util-linux)';
  }
  return result;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function childrenOf(pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Writes the seed's app into `dir` and runs it with Debian's server under `/usr/bin/python3`,
 * resolving once its unix socket accepts connections.
 */
export async function spawnPythonApp(options: PythonAppOptions): Promise<PythonApp> {
  const { file, source, args, env } = commandFor(options);
  await writeFile(`${options.dir}/${file}`, source);
  await writeFile(`${options.dir}/launcher.py`, LAUNCHER);
  const launched = args[0] === '-m' ? ['module', ...args.slice(1)] : ['script', ...args];
  const python = [SYSTEM_PYTHON, `${options.dir}/launcher.py`, ...launched];
  const argv =
    options.fdLimit === undefined ? python : ['prlimit', `--nofile=${options.fdLimit}:${options.fdLimit}`, ...python];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
    cwd: options.dir,
    env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  // Never written to: it only tells the server when the lab is gone.
  child.stdin!.on('error', () => undefined);
  if (child.pid === undefined) {
    throw new BadgatewayError(ERROR_CODES.CHILD_FAILED, `could not start ${options.server}`);
  }
  const pid = child.pid;
  debug('lab: started %s pid %d', options.server, pid);
  let stderr = '';
  let emfileLines = 0;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    emfileLines += d.split('\n').filter((l) => l.includes('Too many open files')).length;
    stderr = (stderr + d).slice(-STDERR_KEEP);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  // gunicorn's SIGTERM waits for its workers (graceful_timeout 30 s); SIGINT is its quick shutdown.
  const close = (): Promise<void> =>
    terminateChild(child, exited, options.server === 'gunicorn' ? 'SIGINT' : 'SIGTERM', 1000);
  let ready: 'ready' | 'dead';
  try {
    ready = await waitFor(
      `${options.server} to listen on ${options.unixSocket}`,
      async () => (dead ? 'dead' : (await canConnect(options.unixSocket)) && 'ready'),
      { timeoutMs: options.readyTimeoutMs ?? 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await close();
    throw err;
  }
  if (ready === 'dead') {
    throw new BadgatewayError(
      ERROR_CODES.CHILD_FAILED,
      `${options.server} exited before listening: ${stderr.trim().split('\n').pop() ?? ''}`,
    );
  }
  return {
    pid,
    url: `unix:${options.unixSocket}`,
    unixSocket: options.unixSocket,
    async samplePid() {
      if (options.server !== 'gunicorn') return pid;
      return (await childrenOf(pid))[0] ?? pid;
    },
    get stderr() {
      return stderr;
    },
    get emfileLines() {
      return emfileLines;
    },
    close,
  };
}
