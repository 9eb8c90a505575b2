/**
 * Users and groups by name or id, for `--user`, `--group` and
 * `--initgroups`: the local databases (/etc/passwd, /etc/group), then
 * `getent` for names that live elsewhere (LDAP, sssd: NSS), where it may
 * run. A number that no database knows is taken as it is, as Gunicorn does.
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** A user as the password database has it. */
export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  /** The user's primary group. */
  readonly gid: number;
}

/** A group as the group database has it. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

function _lines(path: string): string[][] {
  try {
    return readFileSync(path, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) =>
      l.split(":")
    );
  } catch {
    return [];
  }
}

/** `getent DATABASE KEY`'s fields, or null when it has no entry or cannot run. */
function _getent(database: "passwd" | "group", key: string): string[] | null {
  try {
    const r = spawnSync("getent", [database, key], { encoding: "utf8", timeout: 5000 });
    if (r.status !== 0 || !r.stdout) return null;
    return r.stdout.trim().split("\n")[0]?.split(":") ?? null;
  } catch {
    return null;
  }
}

function _user(f: string[]): UserEntry | null {
  const [name, , uid, gid] = f;
  if (name === undefined || !/^\d+$/.test(uid ?? "") || !/^\d+$/.test(gid ?? "")) return null;
  return { name, uid: Number(uid), gid: Number(gid) };
}

function _group(f: string[]): GroupEntry | null {
  const [name, , gid, members] = f;
  if (name === undefined || !/^\d+$/.test(gid ?? "")) return null;
  return { name, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) };
}

/** The user named, or with this uid; null when no database knows it. */
export function findUser(nameOrId: string): UserEntry | null {
  const byId = /^\d+$/.test(nameOrId);
  for (const f of _lines("/etc/passwd")) {
    if (byId ? f[2] === nameOrId : f[0] === nameOrId) return _user(f);
  }
  const f = _getent("passwd", nameOrId);
  return f ? _user(f) : null;
}

/** The group named, or with this gid; null when no database knows it. */
export function findGroup(nameOrId: string): GroupEntry | null {
  const byId = /^\d+$/.test(nameOrId);
  for (const f of _lines("/etc/group")) {
    if (byId ? f[2] === nameOrId : f[0] === nameOrId) return _group(f);
  }
  const f = _getent("group", nameOrId);
  return f ? _group(f) : null;
}

/**
 * The groups `user` belongs to in /etc/group, with `gid` first: what
 * initgroups(3) would set, for the local database.
 */
export function groupsOf(user: string, gid: number): number[] {
  const groups = [gid];
  for (const f of _lines("/etc/group")) {
    const g = _group(f);
    if (g && g.members.includes(user) && !groups.includes(g.gid)) groups.push(g.gid);
  }
  return groups;
}
