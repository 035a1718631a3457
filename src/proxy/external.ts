import { spawn } from 'node:child_process';
import { BadgatewayError, ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { debug, stopChild, type StopSteps, type TempDir } from '../util/index.js';
import { onProcessExit } from './cleanup.js';
import { checkListenPort, findFreePort } from './free-port.js';
import { killGroup, waitUntilAnswering, withParentDeathSignal } from './process.js';
import type { ResolvedProxyOptions } from './options.js';

/*
 * Starting a proxy program that is not nginx (HAProxy, Caddy) the way runNginx starts nginx: in a
 * temp dir that holds its config and logs, as our child in its own process group under a
 * parent-death signal, waited for until it answers a path of its own, stopped by escalating
 * signals, every exit path covered. Each proxy module says how to render its config and run it.
 */

/** Options every non-nginx proxy takes on top of the common {@link ProxyOptions}. */
export interface ExternalProxyOptions {
  /** How long to wait until the proxy answers. Default 10000 ms. */
  startTimeoutMs?: number;
  /**
   * How long an idle pooled upstream connection is kept (nginx's upstream `keepalive_timeout`,
   * HAProxy `pool-purge-delay`, Caddy `keepalive`). Default 60000 ms, nginx's default.
   */
  idleTimeoutMs?: number;
}

/** What a proxy module gives {@link startExternalProxy}. */
export interface ExternalProxySpec {
  /** `haproxy`, `caddy`: used in messages. */
  name: string;
  /** Error code for a proxy that rejects its config or does not start. */
  failedCode: ErrorCode;
  dir: TempDir;
  options: ResolvedProxyOptions;
  startTimeoutMs: number;
  /** Writes the config for `port` and checks it (throwing `failedCode` with the proxy's words); returns the command line. */
  prepare(port: number): Promise<{ command: string; args: string[]; env?: NodeJS.ProcessEnv }>;
  /** Where the child's stdout goes: ignored, or an fd (a log file opened for appending). */
  stdout: 'ignore' | number;
  /** Matches the proxy's stderr when its port is taken. */
  addressInUse: RegExp;
  /** Path the proxy answers itself with 204 once it serves (never proxied, never logged). */
  readyPath: string;
  stopSteps: StopSteps;
}

/** A started external proxy: the child's pid and port, and `close()` (stop, kill the group, remove the dir). */
export interface ExternalProxyProcess {
  pid: number;
  port: number;
  close(): Promise<void>;
}

class AddressInUse extends Error {}

/**
 * Starts the proxy of `spec` on `options.listenPort` (0: a free port, retried when another process
 * takes it first). On failure everything is stopped and the temp dir removed before it throws.
 */
export async function startExternalProxy(spec: ExternalProxySpec): Promise<ExternalProxyProcess> {
  const { options } = spec;
  const attempts = options.listenPort === 0 ? 5 : 1;
  try {
    for (let attempt = 1; ; attempt++) {
      const port = options.listenPort || (await findFreePort());
      if (options.listenPort !== 0) await checkListenPort(port);
      const command = await spec.prepare(port);
      try {
        return await spawnAndWait(spec, port, command);
      } catch (err) {
        if (err instanceof AddressInUse && attempt < attempts) {
          debug('%s: port %d taken meanwhile, retrying', spec.name, port);
          continue;
        }
        if (err instanceof AddressInUse)
          throw new BadgatewayError(
            ERROR_CODES.ADDRESS_IN_USE,
            `${spec.name} could not listen on 127.0.0.1:${port}: ${err.message}`,
          );
        throw err;
      }
    }
  } catch (err) {
    await spec.dir.close();
    throw err;
  }
}

async function spawnAndWait(
  spec: ExternalProxySpec,
  port: number,
  run: { command: string; args: string[]; env?: NodeJS.ProcessEnv },
): Promise<ExternalProxyProcess> {
  // Its own process group: a terminal's Ctrl-C reaches us, who stop it in order, and whatever it
  // forks goes with the group.
  const [command, args] = withParentDeathSignal(run.command, run.args);
  const child = spawn(command, args, {
    stdio: ['ignore', spec.stdout, 'pipe'],
    detached: true,
    env: run.env ?? process.env,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    // Bounded: a proxy that chatters on stderr for hours must not grow our memory.
    if (stderr.length < 64 * 1024) stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid ?? 0;
  const unregister = onProcessExit(() => {
    killGroup(pid);
    spec.dir.closeSync();
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await stopChild(child, exited, spec.stopSteps);
      killGroup(pid);
      unregister();
      await spec.dir.close();
    })());
  const stopOnly = async (): Promise<void> => {
    await stopChild(child, exited, [['SIGKILL', 1000]]);
    killGroup(pid);
    unregister();
  };
  try {
    await Promise.race([
      waitUntilAnswering({
        port,
        path: spec.readyPath,
        timeoutMs: spec.startTimeoutMs,
        died: () => child.exitCode !== null || child.signalCode !== null,
        name: spec.name,
      }),
      spawnError.then((err) => {
        throw new BadgatewayError(spec.failedCode, `cannot start ${run.command}: ${err.message}`, { cause: err });
      }),
    ]);
  } catch (err) {
    await stopOnly();
    const message = proxyMessage(stderr);
    if (spec.addressInUse.test(stderr)) throw new AddressInUse(message);
    if (err instanceof BadgatewayError) throw err;
    throw new BadgatewayError(
      spec.failedCode,
      `${spec.name} did not start: ${message || (err instanceof Error ? err.message : String(err))}`,
      { cause: err },
    );
  }
  debug('%s %d listening on 127.0.0.1:%d -> %s', spec.name, pid, port, spec.options.upstream.url);
  return { pid, port, close };
}

/** The alert/error lines of a proxy's stderr, joined: what it said when it refused to start. */
export function proxyMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const alerts = lines.filter((l) => /ALERT|error|Error|emerg/.test(l) && !/"level":"(?:info|warn)"/.test(l));
  // `[ALERT]    (7249) : config : [haproxy.cfg:20] : …` → `[haproxy.cfg:20] : …`
  return (alerts.length > 0 ? alerts : lines.slice(-3))
    .map((l) => l.replace(/^\[ALERT\]\s+\(\d+\) : (?:config : )?/, ''))
    .join('; ')
    .slice(0, 2000);
}
