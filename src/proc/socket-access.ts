import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/*
 * May this user connect() to that unix socket? The kernel's answer (generic_permission): root (uid 0,
 * CAP_DAC_OVERRIDE) may; otherwise the owner bits when the user owns the file, else the group bits
 * when the file's group is the user's primary or a supplementary group, else the other bits. connect()
 * needs write on the socket and search (execute) on every directory above it. ACLs are not read (a
 * note says so when a mode looks like it would deny).
 */

/** Who the proxy's workers run as. */
export interface WorkerIdentity {
  /** User name when known (`nobody`, `www-data`). */
  user: string | null;
  uid: number;
  gid: number;
  /** Name of the primary group when known (`www-data`, `nogroup`). */
  group: string | null;
  /** Supplementary groups (gids). */
  groups: number[];
  /** Where it was learned: `running nginx workers (pid 123)`, `nginx config user www-data`, `--proxy-user`. */
  from: string;
}

/** The verdict on one path for one identity. */
export interface SocketAccess {
  path: string;
  allowed: boolean;
  /** Why not: the first check that failed, in the kernel's words. */
  denied?: { path: string; need: 'write' | 'search'; mode: string; owner: string; group: string; why: string };
  /** `srwx------ root root` of the socket itself. */
  socket?: { mode: string; owner: string; group: string; uid: number; gid: number };
}

/** Reads /etc/passwd and /etc/group (names ↔ ids, group members). */
export interface AccountDb {
  userByName(name: string): { uid: number; gid: number } | undefined;
  userName(uid: number): string | undefined;
  groupByName(name: string): number | undefined;
  groupName(gid: number): string | undefined;
  /** Supplementary groups of a user name (its memberships in /etc/group). */
  memberOf(user: string): number[];
}

/** /etc/passwd and /etc/group of this machine (read once per call; missing files give an empty db). */
export function readAccountDb(root = '/etc'): AccountDb {
  const read = (file: string): string[][] => {
    try {
      return readFileSync(`${root}/${file}`, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  const passwd = read('passwd');
  const group = read('group');
  return {
    userByName: (name) => {
      const row = passwd.find((r) => r[0] === name);
      return row ? { uid: Number(row[2]), gid: Number(row[3]) } : undefined;
    },
    userName: (uid) => passwd.find((r) => Number(r[2]) === uid)?.[0],
    groupByName: (name) => {
      const row = group.find((r) => r[0] === name);
      return row ? Number(row[2]) : undefined;
    },
    groupName: (gid) => group.find((r) => Number(r[2]) === gid)?.[0],
    memberOf: (user) => group.filter((r) => (r[3] ?? '').split(',').includes(user)).map((r) => Number(r[2])),
  };
}

/**
 * `nobody`, `www-data www-data`, `33`, `33:33` → an identity via the account db; undefined when the
 * user does not exist here.
 */
export function resolveUserSpec(spec: string, db: AccountDb, from: string): WorkerIdentity | undefined {
  const [userPart, groupPart] = spec.trim().split(/[\s:]+/);
  if (!userPart) return undefined;
  const byName = /^\d+$/.test(userPart) ? undefined : db.userByName(userPart);
  const uid = byName?.uid ?? (/^\d+$/.test(userPart) ? Number(userPart) : undefined);
  if (uid === undefined) return undefined;
  const name = byName ? userPart : (db.userName(uid) ?? null);
  let gid = byName?.gid ?? uid;
  if (groupPart) {
    const g = /^\d+$/.test(groupPart) ? Number(groupPart) : db.groupByName(groupPart);
    if (g === undefined) return undefined;
    gid = g;
  }
  return { user: name, uid, gid, group: db.groupName(gid) ?? null, groups: name ? db.memberOf(name) : [], from };
}

const modeString = (mode: number, type: string): string => {
  const bits = 'rwxrwxrwx';
  let out = type;
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
};

/** The permission bits (r=4, w=2, x=1) that apply to `who` for a file: owner, group, or other. */
function applicableBits(
  st: { mode: number; uid: number; gid: number },
  who: WorkerIdentity,
): { bits: number; as: 'owner' | 'group' | 'other' } {
  if (st.uid === who.uid) return { bits: (st.mode >> 6) & 7, as: 'owner' };
  if (st.gid === who.gid || who.groups.includes(st.gid)) return { bits: (st.mode >> 3) & 7, as: 'group' };
  return { bits: st.mode & 7, as: 'other' };
}

/** `srwx------`-style text of a mode. */
function describeStat(
  s: { mode: number; uid: number; gid: number },
  type: string,
  db: AccountDb,
): { mode: string; owner: string; group: string } {
  return {
    mode: modeString(s.mode, type),
    owner: db.userName(s.uid) ?? String(s.uid),
    group: db.groupName(s.gid) ?? String(s.gid),
  };
}

/**
 * Whether `who` may search (x) every directory from `/` down to `dir` (included), as path lookup
 * needs: undefined when it may, else the first directory that stops it. Throws when a directory
 * cannot be stat()ed by us.
 */
export function checkSearchAccess(dir: string, who: WorkerIdentity, db: AccountDb): SocketAccess['denied'] {
  if (who.uid === 0) return undefined;
  const dirs: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    dirs.unshift(d);
    if (d === dirname(d)) break;
  }
  for (const d of dirs) {
    const ds = statSync(d);
    const { bits, as } = applicableBits(ds, who);
    if (!(bits & 1))
      return {
        path: d,
        need: 'search',
        ...describeStat(ds, 'd', db),
        why: `no search (x) permission for ${as} on the directory ${d}`,
      };
  }
  return undefined;
}

/**
 * Checks, as the kernel would, that `who` may connect() to the unix socket at `path`: search on
 * every directory from / down, then write on the socket. Throws only when `path` cannot be stat()ed
 * by us (ENOENT and friends: the caller says "no socket file").
 */
export function checkSocketAccess(path: string, who: WorkerIdentity, db: AccountDb): SocketAccess {
  const full = resolve(path);
  const st = statSync(full);
  const socket = { ...describeStat(st, st.isSocket() ? 's' : '-', db), uid: st.uid, gid: st.gid };
  if (who.uid === 0) return { path: full, allowed: true, socket };
  const deniedDir = checkSearchAccess(dirname(full), who, db);
  if (deniedDir) return { path: full, allowed: false, socket, denied: deniedDir };
  const { bits, as } = applicableBits(st, who);
  if (!(bits & 2)) {
    return {
      path: full,
      allowed: false,
      socket,
      denied: { path: full, need: 'write', ...socket, why: `no write (w) permission for ${as} on the socket` },
    };
  }
  return { path: full, allowed: true, socket };
}
