import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { debug, waitFor } from '../util/index.js';
import type { LabParts } from './parts.js';
import { spawnNodeApp } from './node-apps.js';
import { spawnPythonApp } from './python-apps.js';
import { createRaceServer } from './race-server.js';
import type { RunningUpstream, UpstreamSpec } from './scenario.js';

/** A started upstream, as the phase runner drives it. */
export interface UpstreamHandle extends RunningUpstream {
  /** Where its listen queue is read: a TCP port or a unix socket path. */
  readonly target: { port: number } | { unixSocket: string };
  /** Pid to sample fds of, or null (in-process upstream, or gone). */
  samplePid(): Promise<number | null>;
  /** Requests it is working on, when it knows. */
  inflight(): number | null;
  /** Facts it measured (race hit rate, EMFILE lines logged). */
  notes(): string[];
  /** Child processes it started. */
  readonly childPids: number[];
  /** Writes what the app server logged (its stderr) to `path` and returns it; undefined when it logs nothing we keep. */
  writeLog?(path: string): Promise<string | undefined>;
  close(): Promise<void>;
}

async function waitGone(pid: number): Promise<void> {
  await waitFor(`pid ${pid} to exit`, () => !existsSync(`/proc/${pid}`), { timeoutMs: 3000, intervalMs: 10 });
}

/** Starts the upstream a phase asks for; `socketPath` is used when it listens on a unix socket. */
export async function startUpstream(
  spec: UpstreamSpec,
  parts: LabParts,
  dir: string,
  socketPath: string,
): Promise<UpstreamHandle> {
  switch (spec.kind) {
    case 'demo': {
      const app = await parts.spawnDemoApp(
        spec.transport === 'unix'
          ? { ...spec.app, unixSocket: socketPath }
          : { ...spec.app, port: 0, host: '127.0.0.1' },
      );
      debug('lab: started demo app pid %d at %s', app.pid, app.url);
      let crashed = false;
      const port = app.port ?? (app.url.startsWith('http:') ? Number(new URL(app.url).port) : 0);
      return {
        url: app.url,
        pid: app.pid,
        target: spec.transport === 'unix' ? { unixSocket: socketPath } : { port },
        childPids: [app.pid],
        samplePid: async () => (crashed ? null : app.pid),
        inflight: () => null,
        notes: () => [],
        async crash() {
          crashed = true;
          process.kill(app.pid, 'SIGKILL');
          await waitGone(app.pid);
        },
        close: () => app.close(),
      };
    }
    case 'race': {
      const server = await createRaceServer({ keepAliveTimeoutMs: spec.keepAliveTimeoutMs });
      return {
        url: server.url,
        pid: null,
        target: { port: server.port },
        childPids: [],
        samplePid: async () => null,
        inflight: () => server.inflight(),
        notes: () => {
          const s = server.stats;
          const rate = s.reused > 0 ? ((100 * s.closedOnArrival) / s.reused).toFixed(0) : '0';
          return [
            `race server: ${s.requests} requests answered on ${s.connections} connections; ${s.reused} requests reused an idle keep-alive connection, ` +
              `${s.closedOnArrival} of them met the close (hit rate ${rate}%)`,
          ];
        },
        async crash() {
          await server.close();
        },
        close: () => server.close(),
      };
    }
    case 'node-app': {
      const app = await spawnNodeApp(spec.app);
      return childUpstream(
        app,
        { port: app.port },
        async () => app.pid,
        () => [],
      );
    }
    case 'python': {
      const app = await spawnPythonApp({ ...spec.app, dir, unixSocket: socketPath });
      return childUpstream(
        app,
        { unixSocket: socketPath },
        () => app.samplePid(),
        () =>
          app.emfileLines > 0 ? [`${spec.app.server} logged ${app.emfileLines} lines with "Too many open files"`] : [],
      );
    }
  }
}

/** An app server child process that keeps its stderr (a Python server, a Node app) as an upstream handle. */
function childUpstream(
  app: { pid: number; url: string; readonly stderr: string; close(): Promise<void> },
  target: UpstreamHandle['target'],
  samplePid: () => Promise<number>,
  notes: () => string[],
): UpstreamHandle {
  let crashed = false;
  return {
    url: app.url,
    pid: app.pid,
    target,
    childPids: [app.pid],
    samplePid: async () => (crashed ? null : samplePid()),
    inflight: () => null,
    notes,
    async writeLog(path) {
      await writeFile(path, app.stderr);
      return path;
    },
    async crash() {
      crashed = true;
      process.kill(app.pid, 'SIGKILL');
      await waitGone(app.pid);
    },
    close: () => app.close(),
  };
}
