import { execFile } from 'node:child_process';
import { readLines } from './lines.js';
import { which } from '../util/index.js';

/*
 * Worker deaths, from the app server's log and the kernel's: the evidence that tells a worker that
 * died mid-request (upstream-crash) from a keep-alive race, which produce the same nginx line.
 * Every pattern was taken from the servers' own output (gunicorn 20.1 and 21+, uvicorn, Node 20,
 * Linux's OOM killer).
 */

/** What ended a worker. */
export type CrashKind = 'worker-timeout' | 'killed' | 'exited' | 'fatal' | 'oom-kill';

/** One kind of worker death, as counted in a log. */
export interface CrashSummary {
  kind: CrashKind;
  /** Which pattern: `gunicorn WORKER TIMEOUT`, `Node.js fatal exit` … */
  pattern: string;
  count: number;
  /** Worker pids named by the lines (at most 20). */
  pids: number[];
  /** The first such line. */
  example: string;
}

/** Worker deaths found in app and kernel logs. Plain JSON. */
export interface CrashLogSummary {
  /** Files read (`kernel: journalctl -k` / `kernel: dmesg` for the kernel log). */
  sources: string[];
  lines: number;
  crashes: CrashSummary[];
}

interface CrashPattern {
  kind: CrashKind;
  pattern: string;
  regex: RegExp;
  /** Lines that match the regex but are not a death (exit code 0). */
  ignore?: (m: RegExpExecArray) => boolean;
}

/** App-server lines that mean a worker died (or was killed) while it may have held a request. */
export const APP_CRASH_PATTERNS: readonly CrashPattern[] = [
  { kind: 'worker-timeout', pattern: 'gunicorn WORKER TIMEOUT', regex: /\[CRITICAL\] WORKER TIMEOUT \(pid:(\d+)\)/ },
  {
    kind: 'killed',
    pattern: 'gunicorn worker SIGKILL (out of memory?)',
    regex: /Worker \(pid:(\d+)\) was sent SIGKILL! Perhaps out of memory\?/,
  },
  {
    kind: 'killed',
    pattern: 'gunicorn worker killed by a signal',
    regex: /Worker \(pid:(\d+)\) was sent (SIG[A-Z]+)!/,
  },
  {
    kind: 'killed',
    pattern: 'gunicorn worker terminated by a signal',
    regex: /Worker with pid (\d+) was terminated due to signal (\d+)/,
  },
  {
    kind: 'exited',
    pattern: 'gunicorn worker exited with an error',
    regex: /Worker \(pid:(\d+)\) exited with code (\d+)/,
    ignore: (m) => m[2] === '0',
  },
  { kind: 'exited', pattern: 'uvicorn child process died', regex: /Child process \[(\d+)\] died/ },
  { kind: 'fatal', pattern: 'Fatal Python error', regex: /^Fatal Python error: /m },
  { kind: 'fatal', pattern: 'Node.js heap out of memory', regex: /FATAL ERROR: .*JavaScript heap out of memory/ },
  // Node ≥ 16 ends the trace of an uncaught exception that ends the process with its version line.
  { kind: 'fatal', pattern: 'Node.js fatal exit (uncaught exception)', regex: /^Node\.js v\d+\.\d+\.\d+\s*$/ },
  {
    kind: 'exited',
    pattern: 'pm2 app exited',
    regex: /App \[[^\]]*\] exited with code \[(\d+)\] via signal \[(\w+)\]/,
    ignore: (m) => m[1] === '0',
  },
  { kind: 'fatal', pattern: 'nodemon app crashed', regex: /\[nodemon\] app crashed/ },
];

/** Kernel lines of the OOM killer. */
export const KERNEL_CRASH_PATTERNS: readonly CrashPattern[] = [
  {
    kind: 'oom-kill',
    pattern: 'kernel OOM killer',
    regex: /(?:Memory cgroup )?[Oo]ut of memory: Kill(?:ed)? process (\d+) \(([^)]*)\)/,
  },
];

/** Counts crash lines one at a time (bounded: one entry per pattern). */
export class CrashCounter {
  readonly #byPattern = new Map<string, CrashSummary>();
  readonly #patterns: readonly CrashPattern[];
  lines = 0;

  constructor(patterns: readonly CrashPattern[]) {
    this.#patterns = patterns;
  }

  add(line: string): void {
    this.lines += 1;
    for (const p of this.#patterns) {
      const m = p.regex.exec(line);
      if (!m || p.ignore?.(m)) continue;
      let s = this.#byPattern.get(p.pattern);
      if (!s)
        this.#byPattern.set(
          p.pattern,
          (s = { kind: p.kind, pattern: p.pattern, count: 0, pids: [], example: line.slice(0, 500) }),
        );
      s.count += 1;
      const pid = m[1] !== undefined && /^\d+$/.test(m[1]) && p.pattern !== 'pm2 app exited' ? Number(m[1]) : undefined;
      if (pid !== undefined && s.pids.length < 20 && !s.pids.includes(pid)) s.pids.push(pid);
      return;
    }
  }

  crashes(): CrashSummary[] {
    return [...this.#byPattern.values()].sort((a, b) => b.count - a.count);
  }
}

/** Reads app logs (gzip and `-` as for error logs). Throws BG_UNREADABLE / BG_PERMISSION naming a file. */
export async function summarizeAppLogs(
  files: readonly string[],
  options: { maxLineChars: number; signal?: AbortSignal },
): Promise<CrashLogSummary> {
  const counter = new CrashCounter(APP_CRASH_PATTERNS);
  for (const file of files) {
    await readLines(file, (line) => counter.add(line), {
      maxLineChars: options.maxLineChars,
      chunkBytes: 64 * 1024,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  return { sources: [...files], lines: counter.lines, crashes: counter.crashes() };
}

/**
 * The kernel log's OOM kills: `journalctl -k` (the last day), else `dmesg`. Resolves the summary,
 * or a reason when neither can be read (no permission, not installed, no journal).
 */
export async function readKernelCrashes(timeoutMs = 5000): Promise<CrashLogSummary | { unreadable: string }> {
  const tries: [string, string[]][] = [
    ['journalctl', ['-k', '--no-pager', '-q', '--since=-24h']],
    ['dmesg', []],
  ];
  const failures: string[] = [];
  for (const [cmd, args] of tries) {
    const path = which(cmd);
    if (!path) {
      failures.push(`${cmd}: not installed`);
      continue;
    }
    const out = await new Promise<{ text?: string; error?: string }>((resolve) => {
      execFile(
        path,
        args,
        { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) resolve({ error: (stderr.trim().split('\n')[0] || err.message).replace(/^dmesg: /, '') });
          else resolve({ text: stdout });
        },
      );
    });
    if (out.error !== undefined) {
      failures.push(`${cmd}: ${out.error}`);
      continue;
    }
    const text = out.text ?? '';
    if (text.trim() === '' || /^-- No entries --/m.test(text)) {
      failures.push(`${cmd}: no entries`);
      continue;
    }
    const counter = new CrashCounter(KERNEL_CRASH_PATTERNS);
    for (const line of text.split('\n')) counter.add(line);
    return {
      sources: [`kernel: ${cmd}${args.length ? ` ${args.join(' ')}` : ''}`],
      lines: counter.lines,
      crashes: counter.crashes(),
    };
  }
  return { unreadable: `kernel log (${failures.join('; ')})` };
}
