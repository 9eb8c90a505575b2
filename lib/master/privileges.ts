/**
 * `--user` and `--group` in the master: the ids its workers switch to
 * (lib/worker/privileges.ts), and what the master hands over to them so
 * that they can still do their work as that user: its private folder and
 * the supervision socket in it (heartbeats connect after the switch), the
 * log files (reopened on USR1) and the unix sockets it binds. The master
 * itself keeps its privileges: it binds again for every new worker and for
 * a USR2 upgrade (docs/deploy.md); but with systemd's sockets it binds
 * nothing, and switches too ({@link switchMaster}).
 * @module
 */
import { chownSync, closeSync, existsSync, openSync } from "node:fs";
import process from "node:process";
import type { Settings } from "../config/settings.ts";
import { findUser, groupsOf } from "../config/users.ts";
import { BootError, describeError, UsageError } from "../errors.ts";
import { logger } from "../log.ts";
import type { Ids, Runtime } from "../runtime/mod.ts";

/**
 * The ids workers switch to, or null when they stay as they are.
 * @throws {UsageError} when this process may not switch (it is not root).
 */
export function workerIds(settings: Pick<Settings, "user" | "group" | "initgroups">): Ids | null {
  if (settings.user === null && settings.group === null) return null;
  const myUid = process.getuid?.() ?? 0;
  const myGid = process.getgid?.() ?? 0;
  const uid = settings.user ?? myUid;
  const user = findUser(String(uid));
  const gid = settings.group ?? user?.gid ?? myGid;
  const groups = settings.initgroups && user ? groupsOf(user.name, gid) : [gid];
  if (uid === myUid && gid === myGid && myUid !== 0) return null;
  if (myUid !== 0) {
    throw new UsageError(
      `-u/--user, -g/--group: corral runs as uid ${myUid} and cannot switch its workers to uid ${uid}, ` +
        `gid ${gid}: only root can. Start it as root, or drop the flags`,
    );
  }
  return { uid, gid, groups };
}

/** Makes `path` the workers' (root may; a missing file is created first when `create`). */
function _give(path: string, ids: Ids, create = false): void {
  if (create && !existsSync(path)) closeSync(openSync(path, "a"));
  if (existsSync(path)) chownSync(path, ids.uid, ids.gid);
}

/**
 * Gives the workers' user what it needs once they have switched: the
 * private folder and its socket, the log files.
 */
export function handOverFiles(settings: Settings, ids: Ids, privateFiles: readonly string[]): void {
  for (const path of privateFiles) _give(path, ids);
  if (settings.errorLogfile !== "-") _give(settings.errorLogfile, ids, true);
  if (settings.accessLogfile !== null && settings.accessLogfile !== "-") {
    _give(settings.accessLogfile, ids, true);
  }
}

/**
 * Switches the master itself, when nothing it does needs root (every
 * socket came from systemd): first the log files become the user's, so that
 * USR1 can reopen them. Returns null: the workers it spawns are the user's
 * already.
 * @throws {BootError} when the switch fails.
 */
export function switchMaster(rt: Runtime, settings: Settings, ids: Ids): null {
  handOverFiles(settings, ids, []);
  try {
    rt.setIds(ids);
  } catch (err) {
    throw new BootError(`Cannot switch to uid ${ids.uid}, gid ${ids.gid} (-u/--user): ${describeError(err)}`);
  }
  logger("arbiter").info(
    "Running as uid {uid}, gid {gid}: systemd's sockets leave the master nothing to bind",
    {
      uid: ids.uid,
      gid: ids.gid,
    },
  );
  return null;
}
