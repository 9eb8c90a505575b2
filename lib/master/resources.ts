/**
 * What a master holds open while it runs: its private folder with the
 * workers' channel, the pid file, the listeners (probes and unix relays)
 * and the operations servers. Opened in that order at start, closed in
 * the reverse order at every exit, including a failed start; the private
 * folder also on an exit nobody planned for.
 * @module
 */
import type { Settings } from "../config/settings.ts";
import type { WorkerMessage } from "../ipc.ts";
import { IpcServer } from "./ipc_server.ts";
import type { Runtime } from "../runtime/mod.ts";
import { Listeners } from "./listeners.ts";
import { OperationsServers, type OperationsSource } from "./operations.ts";
import { Pidfile } from "./pidfile.ts";
import { PrivateDir } from "./private_dir.ts";
import { Upgrade } from "./upgrade.ts";
import { chownSync } from "node:fs";
import process from "node:process";
import { describeListenFds, takeListenFds } from "./activation.ts";
import { handOverFiles, switchMaster, workerIds } from "./privileges.ts";

/** A master's open resources. */
export class Resources {
  readonly dir: PrivateDir;
  readonly ipc: IpcServer;
  readonly pidfile: Pidfile | undefined;
  readonly listeners: Listeners;
  readonly operations: OperationsServers;
  #closed = false;

  private constructor(parts: {
    dir: PrivateDir;
    ipc: IpcServer;
    pidfile: Pidfile | undefined;
    listeners: Listeners;
    operations: OperationsServers;
  }) {
    this.dir = parts.dir;
    this.ipc = parts.ipc;
    this.pidfile = parts.pidfile;
    this.listeners = parts.listeners;
    this.operations = parts.operations;
  }

  /**
   * Opens everything the settings ask for; on a failure, closes what was
   * opened and rethrows.
   * @throws {BootError} naming the file, address or path that cannot be used.
   */
  static async open(
    rt: Runtime,
    settings: Settings,
    tls: boolean,
    source: OperationsSource,
    onMessage: (message: WorkerMessage) => void,
  ): Promise<Resources> {
    let ids = workerIds(settings);
    const upgrading = Upgrade.oldMasterPid() !== null;
    const activated = describeListenFds(rt, takeListenFds(process.env, process.pid, upgrading));
    // systemd's sockets leave the master nothing to bind: it switches too, before it opens anything.
    if (ids && activated.length > 0) ids = switchMaster(rt, settings, ids);
    const dir = PrivateDir.create();
    rt.onExit(() => dir.remove());
    const opened: { close(): void }[] = [];
    try {
      const ipc = await IpcServer.open(dir.path, onMessage);
      opened.push(ipc);
      if (ids) handOverFiles(settings, ids, [dir.path, ipc.path]);
      const pidfile = settings.pidfile ? Pidfile.create(settings.pidfile) : undefined;
      if (pidfile) opened.push({ close: () => pidfile.remove() });
      const listeners = await Listeners.prepare(
        settings.bind,
        tls,
        settings.workers,
        upgrading,
        dir.path,
        activated,
      );
      opened.push({ close: () => listeners.close() });
      // Gunicorn's way: the unix sockets the master binds are the workers' user's.
      if (ids) { for (const r of listeners.relays) chownSync(r.address.path, ids.uid, ids.gid); }
      const operations = await OperationsServers.start(rt, settings, source);
      return new Resources({ dir, ipc, pidfile, listeners, operations });
    } catch (err) {
      for (const r of opened.reverse()) r.close();
      dir.remove();
      throw err;
    }
  }

  /**
   * Closes everything; the unix socket files stay when a new master (USR2)
   * now serves at their paths.
   */
  close(handedOver: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.operations.close();
    this.listeners.close(!handedOver);
    this.ipc.close();
    this.pidfile?.remove();
    this.dir.remove();
  }
}
