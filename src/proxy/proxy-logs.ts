import { closeSync, openSync, writeSync } from 'node:fs';
import { debug } from '../util/index.js';
import type { ResolvedProxyOptions } from './options.js';
import type { UpstreamFailure } from './upstream-errors.js';

/** nginx's levels a line of the built-in proxy can have. */
export type LogLevel = UpstreamFailure['level'] | 'warn' | 'info';

/** syslog-style severities of nginx's levels: lower is more severe. */
const SEVERITY: Readonly<Record<ResolvedProxyOptions['errorLogLevel'] | LogLevel, number>> = {
  alert: 1,
  crit: 2,
  error: 3,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/** The built-in proxy's two log files, open for its lifetime. */
export interface ProxyLogs {
  /** Writes an error-log line when `level` passes the `error_log` threshold (nginx's semantics). */
  writeError(line: string, level: LogLevel): void;
  /** Whether a line at `level` would be written (skip building it otherwise). */
  wants(level: LogLevel): boolean;
  /** Queues an access-log line; lines go out once per event-loop turn. */
  writeAccess(line: string): void;
  /** Writes queued access lines now. */
  flush(): void;
  /** Flushes and closes both files; later lines are dropped (requests that finish after close). */
  close(): void;
}

/**
 * Opens the error and access logs. Error lines are written synchronously (rare, and on disk before
 * the access line of the same request); access lines are batched, one write per event-loop turn
 * instead of a syscall per request.
 */
export function createProxyLogs(
  errorLogPath: string,
  accessLogPath: string,
  level: ResolvedProxyOptions['errorLogLevel'],
): ProxyLogs {
  const errorFd = openSync(errorLogPath, 'a');
  const accessFd = openSync(accessLogPath, 'a');
  let open = true;
  const writeLine = (fd: number, text: string): void => {
    if (!open) return;
    try {
      writeSync(fd, text);
    } catch (err) {
      debug('builtin proxy: cannot write a log line: %o', err);
    }
  };
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    writeLine(accessFd, text);
  };
  // nginx's error_log level is a threshold: `crit` keeps crit, alert and emerg lines.
  const minSeverity = SEVERITY[level];
  return {
    wants: (lineLevel) => SEVERITY[lineLevel] <= minSeverity,
    writeError: (line, lineLevel) => {
      if (SEVERITY[lineLevel] <= minSeverity) writeLine(errorFd, `${line}\n`);
    },
    writeAccess: (line) => {
      pending += `${line}\n`;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
    close: () => {
      if (!open) return;
      flush();
      open = false;
      for (const fd of [errorFd, accessFd]) {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
      }
    },
  };
}
