/**
 * systemd socket activation: the listening sockets systemd passes the
 * master (`LISTEN_FDS` descriptors from 3 on, for the pid in `LISTEN_PID`),
 * as sd_listen_fds(3) reads them. With them, corral binds nothing: every
 * worker serves the same sockets (lib/runtime/_adopt.ts), and connections
 * wait in systemd's socket while corral restarts. The variables are unset
 * once read, so that no child takes the sockets for its own; a new master
 * of a USR2 upgrade learns of them from {@link ACTIVATION_ENV}.
 * @module
 */
import process from "node:process";
import type { Address } from "../address.ts";
import { BootError, describeError } from "../errors.ts";
import { logger } from "../log.ts";
import type { Runtime } from "../runtime/mod.ts";

/** The first descriptor systemd passes. */
export const LISTEN_FDS_START = 3;
/** Tells a new master (USR2) the descriptors of systemd's sockets it inherited. */
export const ACTIVATION_ENV = "CORRAL_LISTEN_FDS";

/** A socket systemd passed, and what it is bound to. */
export interface ActivatedSocket {
  readonly fd: number;
  readonly address: Address;
}

/**
 * The descriptors of the sockets passed to this process, and unsets the
 * variables that named them. Empty when none were, or when `LISTEN_PID`
 * names another process (then a warning says so: a wrapper between systemd
 * and corral).
 */
export function takeListenFds(
  env: Record<string, string | undefined> = process.env,
  pid = process.pid,
  upgrading = false,
): number[] {
  const inherited = env[ACTIVATION_ENV];
  delete env[ACTIVATION_ENV];
  if (upgrading && inherited) return inherited.split(",").map(Number).filter((n) => Number.isInteger(n));
  const count = env.LISTEN_FDS;
  const forPid = env.LISTEN_PID;
  if (count === undefined) return [];
  for (const name of ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]) delete env[name];
  if (forPid !== undefined && Number(forPid) !== pid) {
    logger("arbiter").warning(
      "LISTEN_FDS is set for pid {forPid}, not for this master (pid {pid}): systemd's sockets are not used. " +
        "Is corral started through a wrapper? Start it directly in ExecStart=",
      { forPid, pid },
    );
    return [];
  }
  const n = Number(count);
  if (!Number.isInteger(n) || n < 0) throw new BootError(`Invalid LISTEN_FDS "${count}": expected a count`);
  return Array.from({ length: n }, (_, i) => LISTEN_FDS_START + i);
}

/**
 * What each passed descriptor is bound to.
 * @throws {BootError} for a descriptor that is no listening stream socket,
 * or a runtime that cannot serve one (Deno without --allow-ffi), with the way out.
 */
export function describeListenFds(rt: Runtime, fds: readonly number[]): ActivatedSocket[] {
  return fds.map((fd) => {
    let address: Address | null;
    try {
      address = rt.listeningAddress(fd);
    } catch (err) {
      throw new BootError(
        `Cannot serve the sockets systemd passed (LISTEN_FDS): ${describeError(err)}; ` +
          "or let corral bind its addresses itself (--bind, without the .socket unit)",
      );
    }
    if (address === null) {
      throw new BootError(
        `systemd passed descriptor ${fd}, which is not a listening stream socket: corral serves ` +
          "ListenStream= sockets with Accept=no",
      );
    }
    return { fd, address };
  });
}
