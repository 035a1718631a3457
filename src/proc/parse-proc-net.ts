/**
 * Parsers for `/proc/net/tcp`, `/proc/net/tcp6`, `/proc/net/unix` and `/proc/net/netstat`. Pure
 * functions of the text; lines they do not understand (the header, garbage, a truncated last line)
 * are skipped, never thrown on.
 */
import { endianness } from 'node:os';
import type { Endpoint, ProcTcpSocket, ProcUnixSocket, TcpState } from './types.js';

/** `st` column of /proc/net/tcp (hex) → state. 0C (NEW_SYN_RECV) is a request socket: SYN_RECV. */
export const PROC_TCP_STATES: Readonly<Record<number, TcpState>> = {
  0x01: 'ESTABLISHED',
  0x02: 'SYN_SENT',
  0x03: 'SYN_RECV',
  0x04: 'FIN_WAIT1',
  0x05: 'FIN_WAIT2',
  0x06: 'TIME_WAIT',
  0x07: 'CLOSE',
  0x08: 'CLOSE_WAIT',
  0x09: 'LAST_ACK',
  0x0a: 'LISTEN',
  0x0b: 'CLOSING',
  0x0c: 'SYN_RECV',
};

const HEX = /^[0-9A-Fa-f]+$/;

/**
 * Decodes a /proc/net/tcp{,6} address (`0100007F:1F90`). The kernel prints each 32-bit word of the
 * network-order address with `%08X` in host order, so on little-endian machines the bytes of every
 * word come out reversed. IPv6 comes out RFC 5952-compressed, IPv4-mapped as `::ffff:1.2.3.4`
 * (as ss prints it).
 */
export function parseProcNetAddress(text: string, littleEndian = endianness() === 'LE'): Endpoint | undefined {
  const [hexAddress, hexPort, extra] = text.split(':');
  if (
    extra !== undefined ||
    !hexAddress ||
    !hexPort ||
    !HEX.test(hexAddress) ||
    !HEX.test(hexPort) ||
    hexPort.length > 4
  ) {
    return undefined;
  }
  if (hexAddress.length !== 8 && hexAddress.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hexAddress.length; w += 8) {
    const word = hexAddress.slice(w, w + 8);
    const wordBytes = [0, 2, 4, 6].map((i) => parseInt(word.slice(i, i + 2), 16));
    bytes.push(...(littleEndian ? wordBytes.reverse() : wordBytes));
  }
  const port = parseInt(hexPort, 16);
  return { address: bytes.length === 4 ? bytes.join('.') : formatIpv6(bytes), port };
}

/** RFC 5952 text of 16 bytes: lower-case, longest run of ≥ 2 zero groups as `::`, v4-mapped dotted. */
function formatIpv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Sockets of `/proc/net/tcp` or `/proc/net/tcp6` (the address width tells which). For LISTEN
 * sockets `rx_queue` is the accept-queue depth; the backlog is not in this file.
 */
export function parseProcNetTcp(text: string): ProcTcpSocket[] {
  const sockets: ProcTcpSocket[] = [];
  // The file is generated in chunks while sockets come and go, so one read can list a socket twice
  // (seen here: the same accept-queue socket three times). Same line minus `sl` = same socket.
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode …  (TIME_WAIT lines end after inode's neighbours)
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const identity = f.slice(1).join(' ');
    if (seen.has(identity)) continue;
    seen.add(identity);
    const local = parseProcNetAddress(f[1] ?? '');
    const remote = parseProcNetAddress(f[2] ?? '');
    const st = f[3] ?? '';
    const queues = /^([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{1,8})$/.exec(f[4] ?? '');
    const uid = f[7] ?? '';
    const inode = f[9] ?? '';
    if (!local || !remote || !queues || !HEX.test(st) || !/^\d+$/.test(uid) || !/^\d+$/.test(inode)) continue;
    const state = PROC_TCP_STATES[parseInt(st, 16)];
    if (!state) continue;
    sockets.push({
      kind: (f[1] ?? '').length > 13 ? 'tcp6' : 'tcp',
      state,
      local,
      remote,
      txQueue: parseInt(queues[1] ?? '0', 16),
      rxQueue: parseInt(queues[2] ?? '0', 16),
      uid: Number(uid),
      inode: Number(inode),
    });
  }
  return sockets;
}

const UNIX_TYPES: Readonly<Record<number, ProcUnixSocket['type']>> = { 1: 'stream', 2: 'dgram', 5: 'seqpacket' };
const UNIX_STATES: readonly ProcUnixSocket['state'][] = [
  'FREE',
  'UNCONNECTED',
  'CONNECTING',
  'CONNECTED',
  'DISCONNECTING',
];
/** `__SO_ACCEPTCON` in the Flags column: the socket is listening. */
const SO_ACCEPTCON = 0x10000;

/**
 * Sockets of `/proc/net/unix` (`Num RefCount Protocol Flags Type St Inode Path`). The path is
 * everything after the inode, so paths with spaces survive. Connections still in a listener's
 * accept queue appear as `CONNECTING` with inode 0 and the listener's path.
 */
export function parseProcNetUnix(text: string): ProcUnixSocket[] {
  const sockets: ProcUnixSocket[] = [];
  const seen = new Set<string>(); // the Num column is the socket's (hashed) address: see parseProcNetTcp
  for (const line of text.split('\n')) {
    const m =
      /^([0-9a-fA-F]+):\s+([0-9A-Fa-f]+)\s+[0-9A-Fa-f]+\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s+(\d+)(?: (.*))?$/.exec(
        line.trimEnd(),
      );
    if (!m) continue;
    const type = UNIX_TYPES[parseInt(m[4] ?? '', 16)];
    const state = UNIX_STATES[parseInt(m[5] ?? '', 16)];
    if (!type || !state || seen.has(m[1] ?? '')) continue;
    seen.add(m[1] ?? '');
    const path = m[7] ?? '';
    sockets.push({
      type,
      state,
      listening: (parseInt(m[3] ?? '0', 16) & SO_ACCEPTCON) !== 0,
      refCount: parseInt(m[2] ?? '0', 16),
      inode: Number(m[6]),
      path: path === '' ? null : path,
    });
  }
  return sockets;
}

/**
 * `/proc/net/netstat` (and `/proc/net/snmp`): pairs of lines `Section: Name1 Name2 …` /
 * `Section: 1 2 …` → `{ Section: { Name1: 1, … } }`. A pair whose counts differ keeps the common
 * prefix; a value line without a header is skipped.
 */
export function parseNetstat(text: string): Record<string, Record<string, number>> {
  // Maps, not object literals, until the end: a section or counter named `__proto__` must stay data.
  const sections = new Map<string, Map<string, number>>();
  const headers = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const section = m[1] ?? '';
    const tokens = (m[2] ?? '').split(/\s+/).filter(Boolean);
    if (tokens.length === 0) continue;
    if (tokens.every((t) => /^-?\d+$/.test(t))) {
      const names = headers.get(section);
      if (!names) continue;
      headers.delete(section);
      let values = sections.get(section);
      if (!values) sections.set(section, (values = new Map()));
      for (const [i, name] of names.entries()) {
        const token = tokens[i];
        if (token !== undefined) values.set(name, Number(token));
      }
    } else {
      headers.set(section, tokens);
    }
  }
  return Object.fromEntries([...sections].map(([name, values]) => [name, Object.fromEntries(values)]));
}
