import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { findFreePort } from '../../src/proxy/index.js';
import { createTempDir, sleep, which, type TempDir } from '../../src/util/index.js';
import { spawnGroupChild } from '../../src/testing/index.js';

/** A real Prometheus server (Debian's `prometheus`) in a temp dir, on a free loopback port. */
export interface PrometheusServer {
  readonly url: string;
  readonly pid: number;
  readonly dir: TempDir;
  /** GET `path` of the HTTP API and return its `data` (throws on an API error). */
  api<T>(path: string): Promise<T>;
  readonly stderr: string;
  /** SIGKILLs its process group and removes the temp dir. */
  close(): Promise<void>;
}

export interface PrometheusOptions {
  /** Rule files to load (copied into the server's dir). */
  ruleFiles: { name: string; content: string }[];
  /** Job name → `host:port` to scrape (path /metrics). */
  targets: Record<string, string>;
  /** Scrape and rule evaluation interval, seconds. */
  intervalS: number;
}

export const PROMETHEUS = which('prometheus');

/**
 * Starts Prometheus with a generated config; resolves once `/-/ready` answers. It runs in its own
 * process group under `setpriv --pdeathsig SIGKILL` (when setpriv is there), and an exit handler
 * kills the group, so a test that dies half-way leaves nothing running; `close()` removes its dir.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = PROMETHEUS;
  if (!binary) throw new Error('prometheus is not installed');
  const dir = await createTempDir('bg-prom-');
  for (const file of options.ruleFiles) await writeFile(dir.file(file.name), file.content);
  const config = {
    global: {
      scrape_interval: `${options.intervalS}s`,
      evaluation_interval: `${options.intervalS}s`,
      scrape_timeout: `${options.intervalS}s`,
    },
    rule_files: options.ruleFiles.map((f) => dir.file(f.name)),
    scrape_configs: Object.entries(options.targets).map(([job, target]) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
    })),
  };
  await writeFile(dir.file('prometheus.yml'), stringify(config));
  // Another process can take the free port before Prometheus binds it: try a few.
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await findFreePort();
    const args = [
      `--config.file=${dir.file('prometheus.yml')}`,
      `--storage.tsdb.path=${dir.file('data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ];
    const setpriv = which('setpriv');
    const [command, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', binary, ...args]] : [binary, args];
    const server = spawnGroupChild(command, argv, { cwd: dir.path });
    const url = `http://127.0.0.1:${port}`;
    const close = async (): Promise<void> => {
      await server.kill();
      await dir.close();
    };
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (Date.now() < deadline && !server.exited) {
      ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await sleep(100);
    }
    if (ready) {
      return {
        url,
        pid: server.pid,
        dir,
        get stderr() {
          return server.stderr;
        },
        async api<T>(path: string): Promise<T> {
          const body = (await (await fetch(`${url}${path}`)).json()) as { status: string; data: T; error?: string };
          if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`);
          return body.data;
        },
        close,
      };
    }
    lastError = server.stderr;
    await server.kill();
    if (!/address already in use/i.test(lastError)) break;
  }
  await dir.close();
  throw new Error(`prometheus did not start: ${lastError.trim().split('\n').slice(-3).join(' | ')}`);
}
