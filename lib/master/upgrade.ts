/**
 * USR2: upgrade in place. The old master starts a new master (the same
 * command line, the program now on disk) beside itself; the new one joins
 * the ports through SO_REUSEPORT, and once its workers serve it asks the
 * old master to drain (TERM). If the new master fails first, the old one
 * never stopped serving.
 * @module
 */
import process from "node:process";
import type { Logger } from "@logtape/logtape";
import { describeError } from "../errors.ts";
import type { Pidfile } from "./pidfile.ts";
import type { ChildExit, ChildProcess, Runtime } from "../runtime/mod.ts";

/** Tells a new master the pid of the old one it takes over from. */
export const UPGRADE_ENV = "CORRAL_UPGRADE_FROM";

/** An upgrade started by this (old) master. */
export class Upgrade {
  readonly #child: ChildProcess;
  readonly #pidfile: Pidfile | undefined;
  readonly #log: Logger;
  #running = true;

  private constructor(child: ChildProcess, pidfile: Pidfile | undefined, log: Logger) {
    this.#child = child;
    this.#pidfile = pidfile;
    this.#log = log;
  }

  /** The pid of the master this one takes over from, in a new master. */
  static oldMasterPid(): number | null {
    const pid = Number(process.env[UPGRADE_ENV]);
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid ? pid : null;
  }

  /** In a new master whose workers all serve: asks the old master to drain. */
  static handOver(log: Logger): void {
    const old = Upgrade.oldMasterPid();
    if (old === null) return;
    delete process.env[UPGRADE_ENV];
    log.info("Upgrade: serving; asking the old master (pid {old}) to drain", { old });
    try {
      process.kill(old, "SIGTERM");
    } catch { /* already gone */ }
  }

  /**
   * Spawns the new master; the pid file moves aside to PATH.oldbin, as in
   * Gunicorn. Null, logged, when the system would not start it.
   */
  static start(rt: Runtime, argv: string[], pidfile: Pidfile | undefined, log: Logger): Upgrade | null {
    const path = pidfile?.path;
    pidfile?.rename(`${path}.oldbin`);
    let child: ChildProcess;
    try {
      child = rt.spawn(argv, { stdin: "null", env: { [UPGRADE_ENV]: String(process.pid) } });
    } catch (err) {
      if (path) pidfile?.rename(path);
      log.error("Upgrade failed: cannot start a new master: {cause}; this master keeps serving", {
        cause: describeError(err),
      });
      return null;
    }
    log.info("Upgrade: started a new master with pid {pid}", { pid: child.pid });
    return new Upgrade(child, pidfile, log);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves when the new master exits. */
  get exitStatus(): Promise<ChildExit> {
    return this.#child.exited;
  }

  /** The new master is still running. */
  get running(): boolean {
    return this.#running;
  }

  /** Its sockets stand at our unix paths: ours must not remove them. */
  get handedOver(): boolean {
    return this.#running;
  }

  /** The new master exited: before taking over, that is a failed upgrade. */
  exited(status: ChildExit): void {
    this.#running = false;
    const how = status.signal ? `was sent ${status.signal}` : `exited with code ${status.code}`;
    this.#log.error("Upgrade failed: the new master (pid {pid}) {how}; this master keeps serving", {
      pid: this.#child.pid,
      how,
    });
    const path = this.#pidfile?.path;
    if (path?.endsWith(".oldbin")) this.#pidfile?.rename(path.slice(0, -".oldbin".length));
  }
}
