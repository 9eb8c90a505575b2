/**
 * USR2: upgrade in place. The old master starts a new master (the same
 * command line, the program now on disk) beside itself; the new one joins
 * the ports through SO_REUSEPORT, and once its workers serve it asks the
 * old master to drain (TERM). If the new master fails first, the old one
 * never stopped serving.
 * @module
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { Logger } from "../log.ts";
import { describeError } from "../errors.ts";
import type { ServiceNotifier } from "./notify.ts";
import type { Pidfile } from "./pidfile.ts";
import { ACTIVATION_ENV } from "./activation.ts";
import type { ChildExit, ChildProcess, Runtime } from "../runtime/mod.ts";

/** Tells a new master the pid of the old one it takes over from. */
export const UPGRADE_ENV = "CORRAL_UPGRADE_FROM";
/** Tells a new master the old one's private folder, where it says that it took over. */
export const UPGRADE_DIR_ENV = "CORRAL_UPGRADE_DIR";
const HANDED_OVER = "handed-over";

/** An upgrade started by this (old) master. */
export class Upgrade {
  readonly #child: ChildProcess;
  readonly #pidfile: Pidfile | undefined;
  readonly #log: Logger;
  readonly #mark: string;
  #running = true;

  private constructor(child: ChildProcess, pidfile: Pidfile | undefined, log: Logger, mark: string) {
    this.#child = child;
    this.#pidfile = pidfile;
    this.#log = log;
    this.#mark = mark;
  }

  /** The new master serves and asked this one to drain (not an operator's stop during the upgrade). */
  get tookOver(): boolean {
    return this.#running && existsSync(this.#mark);
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
    // Tells the old master that this TERM is the handover, not a stop of the service.
    const dir = process.env[UPGRADE_DIR_ENV];
    delete process.env[UPGRADE_DIR_ENV];
    try {
      if (dir) writeFileSync(join(dir, HANDED_OVER), `${process.pid}\n`);
    } catch { /* gone: the old master stops anyway */ }
    log.info("Upgrade: serving; asking the old master (pid {old}) to drain", { old });
    try {
      process.kill(old, "SIGTERM");
    } catch { /* already gone */ }
  }

  /**
   * Spawns the new master; the pid file moves aside to PATH.oldbin, as in
   * Gunicorn. Null, logged, when the system would not start it.
   */
  static start(
    rt: Runtime,
    argv: string[],
    log: Logger,
    own: {
      pidfile?: Pidfile | undefined;
      dir: string;
      fds?: readonly number[];
      current?: Upgrade | undefined;
    },
  ): Upgrade | null {
    const { pidfile, dir, fds = [], current } = own;
    if (process.pid === 1) {
      log.warning(
        "USR2 ignored: this master is PID 1 (a container's init), and a container ends with it, new " +
          "master included. Reload with HUP, or roll out a new container (docs/deploy.md)",
      );
      return null;
    }
    if (current?.running) {
      log.warning("An upgrade is already in progress (new master pid {pid})", { pid: current.pid });
      return null;
    }
    const path = pidfile?.path;
    pidfile?.rename(`${path}.oldbin`);
    let child: ChildProcess;
    // systemd's sockets go to the new master, at the same numbers.
    const env: Record<string, string> = { [UPGRADE_ENV]: String(process.pid), [UPGRADE_DIR_ENV]: dir };
    if (fds.length) env[ACTIVATION_ENV] = fds.join(",");
    try {
      child = rt.spawn(argv, { stdin: "null", env, ...(fds.length ? { fds } : {}) });
    } catch (err) {
      if (path) pidfile?.rename(path);
      log.error("Upgrade failed: cannot start a new master: {cause}; this master keeps serving", {
        cause: describeError(err),
      });
      return null;
    }
    log.info("Upgrade: started a new master with pid {pid}", { pid: child.pid });
    return new Upgrade(child, pidfile, log, join(dir, HANDED_OVER));
  }

  /** systemd is told the master is ready: a new master of an upgrade is the service's main process now. */
  static notifyReady(notify: ServiceNotifier | undefined): void {
    const old = Upgrade.oldMasterPid();
    if (old === null) notify?.ready();
    else notify?.ready(`Serving; took over from pid ${old} (USR2)`, process.pid);
  }

  /** systemd is told this master stops, or, when its upgrade took over, that the service goes on in the new one. */
  static notifyStopping(upgrade: Upgrade | undefined, notify: ServiceNotifier | undefined): void {
    const heir = upgrade?.tookOver ? upgrade.pid : null;
    if (heir === null) notify?.stopping();
    else notify?.handOver(heir, `Upgraded: the new master (pid ${heir}) serves`);
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
