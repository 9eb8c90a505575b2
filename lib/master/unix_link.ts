/**
 * A unix socket served by one worker (`-b unix:PATH -w 1`), without the
 * relay's cost and still reloadable: each worker listens on a socket of its
 * own beside PATH (`PATH.MASTERPID.AGE`), and PATH is a symbolic link to the
 * socket of the worker that serves. A client's connect() follows the link,
 * so a replacement takes new connections over the moment the link is swapped
 * (a rename: atomic), while the worker it replaces serves the connections it
 * has and drains. The runtimes unlink a unix socket's path when their server
 * closes, which is why no worker listens at PATH itself: the old worker
 * would remove its replacement's socket.
 *
 * The master keeps the link pointed at the youngest worker that serves
 * ({@link UnixLink.track}, after every event of its loop), so HUP, crash
 * replacement, --max-requests and USR2 follow the pool's one rule
 * (lib/master/pool.ts). It has no relay behind it, so one worker serves it:
 * more takes `-w 2` or more at start, where the relay spreads them.
 * @module
 */
import { lstatSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import type { UnixAddress } from "../address.ts";
import type { WorkerRecord } from "./pool.ts";

/** The public path of a `-w 1` unix bind, linked to the socket of the worker that serves. */
export class UnixLink {
  readonly address: UnixAddress;
  readonly #prefix: string;
  /** The age of the worker the link points at, or null. */
  #target: number | null = null;

  constructor(address: UnixAddress) {
    this.address = address;
    this.#prefix = `${basename(address.path)}.${process.pid}.`;
  }

  /** Where the worker of this age listens: beside the public path, so behind the same folder's permissions. */
  workerAddress(age: number): UnixAddress {
    return { transport: "unix", path: join(dirname(this.address.path), `${this.#prefix}${age}`) };
  }

  /**
   * Points the link at the youngest worker that serves, else the youngest
   * outgoing one (it serves until its replacement does); forgets the
   * sockets of workers gone (a SIGKILLed one leaves its file).
   */
  track(workers: readonly Pick<WorkerRecord, "age" | "state" | "exited">[]): void {
    const live = workers.filter((w) => !w.exited);
    const youngest = (state: WorkerRecord["state"]) =>
      live.filter((w) => w.state === state).reduce<number | null>((a, w) => Math.max(a ?? 0, w.age), null);
    const target = youngest("serving") ?? youngest("outgoing");
    if (target !== null && target !== this.#target) this.#point(target);
    this.#forgetAllBut(new Set(workers.map((w) => w.age)));
  }

  #point(age: number): void {
    const link = this.address.path;
    const temporary = `${link}.${process.pid}.link`;
    try {
      rmSync(temporary, { force: true });
      symlinkSync(basename(this.workerAddress(age).path), temporary);
      renameSync(temporary, link);
      this.#target = age;
    } catch { /* the folder is gone or not ours any more: nothing to point */ }
  }

  #forgetAllBut(ages: ReadonlySet<number>): void {
    const folder = dirname(this.address.path);
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(this.#prefix)) continue;
      const age = Number(name.slice(this.#prefix.length));
      if (Number.isInteger(age) && !ages.has(age)) rmSync(join(folder, name), { force: true });
    }
  }

  /** Whether the public path is our link (not a new master's after USR2, nor anyone else's file). */
  #ours(): boolean {
    try {
      return lstatSync(this.address.path).isSymbolicLink() &&
        readlinkSync(this.address.path).startsWith(this.#prefix);
    } catch {
      return false;
    }
  }

  /** Removes the link (if it is still ours) and the workers' sockets left. */
  close(): void {
    if (this.#ours()) rmSync(this.address.path, { force: true });
    this.#forgetAllBut(new Set());
  }
}
