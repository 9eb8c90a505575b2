/**
 * `--user`: a worker binds its addresses with the privileges it was started
 * with (the master's: root, for a port below 1024), then switches to the
 * user and groups the master resolved, before it loads the app: the app
 * never runs as root. Its sockets are only bound, not listening, until the
 * app is loaded (lib/runtime/_adopt.ts), so no connection comes to a worker
 * that cannot answer yet.
 * @module
 */
import { chownSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import process from "node:process";
import type { Address } from "../address.ts";
import { bindError } from "../runtime/_bind_error.ts";
import { BootError, describeError } from "../errors.ts";
import type { WorkerBoot } from "../ipc.ts";
import { logger } from "../log.ts";
import type { Runtime } from "../runtime/mod.ts";

/** The address with its host as an IP literal, as bind(2) takes it. */
async function _resolved(address: Address): Promise<Address> {
  if (address.transport === "unix" || isIP(address.hostname)) return address;
  const { address: ip } = await lookup(address.hostname);
  return { ...address, hostname: ip };
}

/**
 * Binds every address the worker has no socket for yet (systemd's are
 * bound already), chowns unix socket files to the user, then switches ids.
 * Returns the bound sockets by listen entry.
 * @throws {BootError} naming the address or the ids that failed.
 */
export async function dropPrivileges(rt: Runtime, boot: WorkerBoot): Promise<(number | undefined)[]> {
  const ids = boot.ids;
  if (ids === null) return [];
  const bound: (number | undefined)[] = [];
  for (const { address, reusePort, tls, fd } of boot.listen) {
    if (fd !== undefined) {
      bound.push(undefined);
      continue;
    }
    try {
      const socket = rt.bindSocket(await _resolved(address), reusePort);
      bound.push(socket);
      // As Gunicorn does: the socket file is the user's, so that it can remove it and others connect.
      if (address.transport === "unix") chownSync(address.path, ids.uid, ids.gid);
    } catch (err) {
      throw bindError(address, tls, err);
    }
  }
  try {
    rt.setIds(ids);
  } catch (err) {
    throw new BootError(
      `Cannot switch to uid ${ids.uid}, gid ${ids.gid} (-u/--user, -g/--group): ${describeError(err)}`,
    );
  }
  logger("worker").debug("Worker {pid} runs as uid {uid}, gid {gid}", {
    pid: process.pid,
    uid: ids.uid,
    gid: ids.gid,
  });
  return bound;
}
