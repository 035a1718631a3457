import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { findNginx } from '../proxy/index.js';
import { dumpSource, loadNginxConfig, type NginxConfigFacts } from './nginx-config.js';

/*
 * A running nginx, found in /proc: its master (argv rewritten to `nginx: master process …`, which
 * keeps the command line it was started with), its workers (their uid/gid are the worker user for
 * real), and its configuration as `nginx -T` prints it with the master's own -p/-c/-g.
 */

/** A running nginx master and its workers. */
export interface RunningNginx {
  masterPid: number;
  /** The command line after `master process` (`/usr/sbin/nginx -p /x/ -c /x/nginx.conf`). */
  commandLine: string;
  /** Binary: /proc/PID/exe, or the nginx on PATH when that is gone (upgraded). */
  binary: string | undefined;
  prefix?: string;
  conf?: string;
  errorLog?: string;
  globals?: string;
  workers: RunningWorker[];
}

/** One worker's credentials and fd limit, from /proc. */
export interface RunningWorker {
  pid: number;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: number[];
  /** Soft RLIMIT_NOFILE; null = unlimited or unreadable. */
  fdSoft: number | null;
}

/** Reads the argv nginx rewrote: `nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf`. */
export function parseMasterCommandLine(
  cmdline: string,
): Pick<RunningNginx, 'commandLine' | 'prefix' | 'conf' | 'errorLog' | 'globals'> | undefined {
  const m = /^nginx: master process (.*)$/.exec(cmdline.replace(/\0/g, ' ').trim());
  if (!m) return undefined;
  const commandLine = m[1]!.trim();
  const words = commandLine.split(/\s+/);
  const out: ReturnType<typeof parseMasterCommandLine> = { commandLine };
  for (let i = 1; i < words.length; i++) {
    const flag = words[i];
    const value = words[i + 1];
    if (value === undefined) break;
    if (flag === '-p') out.prefix = value;
    else if (flag === '-c') out.conf = value;
    else if (flag === '-e') out.errorLog = value;
    else if (flag === '-g') out.globals = words.slice(i + 1).join(' ');
    else continue;
    i += 1;
  }
  return out;
}

/** Every nginx master this process can see, with its workers (bounded: the first 16). */
export function findRunningNginx(): RunningNginx[] {
  const masters: RunningNginx[] = [];
  const byParent = new Map<number, number[]>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  for (const name of pids) {
    const pid = Number(name);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // comm is in parentheses; the fields after the last ')' start with state, then ppid.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (comm !== 'nginx') continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseMasterCommandLine(cmdline);
    if (!parsed || masters.length >= 16) continue;
    let binary: string | undefined;
    try {
      binary = readlinkSync(`/proc/${pid}/exe`);
      if (binary.endsWith(' (deleted)')) binary = findNginx();
    } catch {
      binary = findNginx();
    }
    masters.push({ masterPid: pid, binary, ...parsed, workers: [] });
  }
  for (const m of masters) m.workers = (byParent.get(m.masterPid) ?? []).map(readWorker).filter((w) => w !== undefined);
  return masters;
}

function readWorker(pid: number): RunningWorker | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number[] =>
      (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    let fdSoft: number | null = null;
    try {
      const limits = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
      fdSoft = limits === undefined || limits === 'unlimited' ? null : Number(limits);
    } catch {
      fdSoft = null;
    }
    // Uid/Gid lines: real, effective, saved, filesystem — the effective ones decide access.
    return { pid, uid: field('Uid')[1] ?? -1, gid: field('Gid')[1] ?? -1, groups: field('Groups'), fdSoft };
  } catch {
    return undefined;
  }
}

/** The error log a master writes, as given with -e (resolved against its prefix). */
export function masterErrorLog(m: RunningNginx): string | undefined {
  if (!m.errorLog) return undefined;
  return resolve(m.prefix ?? '/', m.errorLog);
}

/**
 * `nginx -T` of a running master, with its own -p/-c/-e/-g, parsed. Rejects with the reason when
 * it cannot be run or read (not installed, permission denied, a config that no longer tests).
 */
export function dumpRunningConfig(m: RunningNginx, timeoutMs = 10_000): Promise<NginxConfigFacts> {
  const args = [
    '-T',
    ...(m.prefix ? ['-p', m.prefix] : []),
    ...(m.conf ? ['-c', m.conf] : []),
    ...(m.errorLog ? ['-e', m.errorLog] : []),
    ...(m.globals ? ['-g', m.globals] : []),
  ];
  return new Promise((resolveDump, reject) => {
    if (!m.binary) {
      reject(new Error('no nginx binary to run'));
      return;
    }
    execFile(
      m.binary,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const said = stderr
            .split('\n')
            .map((l) => l.replace(/^nginx: /, '').trim())
            .filter((l) => l && !/test failed/.test(l))[0];
          reject(new Error(said ?? err.message));
          return;
        }
        const { source, first } = dumpSource(stdout);
        if (!first) {
          reject(new Error('nginx -T printed no configuration'));
          return;
        }
        try {
          resolveDump(loadNginxConfig(first, source, `nginx -T of pid ${m.masterPid}`));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    );
  });
}
