import { readFileSync } from 'node:fs';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { parseNetstat } from './parse-proc-net.js';
import { PROC_ROOT, readProcFile } from './platform.js';

/** TCP extension counters of this network namespace (since boot; they only grow, so diff two reads). */
export interface NetstatCounters {
  /** `TcpExt ListenOverflows`: connections dropped because a TCP accept queue was full (count). */
  listenOverflows: number;
  /** `TcpExt ListenDrops`: all SYNs/ACKs dropped at a listener, overflows included (count). */
  listenDrops: number;
  /** Every `TcpExt:` counter by its kernel name (`TCPTimeouts`, `TCPAbortOnData`, …). */
  tcpExt: Record<string, number>;
}

/**
 * Reads `/proc/net/netstat`. Note: these counters move for TCP only; a full unix-socket backlog
 * is invisible here (the connect() fails with EAGAIN instead).
 */
export async function readNetstatCounters(): Promise<NetstatCounters> {
  const path = `${PROC_ROOT}/net/netstat`;
  const tcpExt = parseNetstat(await readProcFile(path))['TcpExt'];
  const listenOverflows = tcpExt?.['ListenOverflows'];
  const listenDrops = tcpExt?.['ListenDrops'];
  if (!tcpExt || listenOverflows === undefined || listenDrops === undefined) {
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `${path} has no TcpExt ListenOverflows/ListenDrops`);
  }
  return { listenOverflows, listenDrops, tcpExt };
}

/** `net.core.somaxconn`: the cap the kernel puts on every listen() backlog (count). */
export async function readSomaxconn(): Promise<number> {
  const path = `${PROC_ROOT}/sys/net/core/somaxconn`;
  const text = (await readProcFile(path)).trim();
  if (!/^\d+$/.test(text))
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `${path}: ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

/**
 * `net.ipv4.ip_unprivileged_port_start`: the lowest port a process without root (or
 * CAP_NET_BIND_SERVICE) may bind; 1024 when unreadable, the kernel's default. Synchronous: it is
 * read only to word an error.
 */
export function readUnprivilegedPortStart(): number {
  try {
    const n = Number(readFileSync(`${PROC_ROOT}/sys/net/ipv4/ip_unprivileged_port_start`, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : 1024;
  } catch {
    return 1024;
  }
}
