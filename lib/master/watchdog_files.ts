/**
 * The workers' watchdogs, read by the master from the files each worker
 * maps (lib/worker/worker.ts) where the runtime can share memory between
 * processes: how long a worker's event loop has been blocked and which
 * requests are in it, read while that loop is blocked, with no thread in
 * the worker to report it (a second JavaScript isolate: 13 MiB a worker on
 * Deno, measured) and no message a heartbeat. One read of a few kilobytes
 * per worker at each of the master's wake-ups.
 * @module
 */
import { closeSync, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Heartbeat } from "../ipc.ts";
import type { Runtime, SharedMemory } from "../runtime/types.ts";
import { BUFFER_BYTES, heartbeatOf } from "../watchdog_buffer.ts";

/** The watchdog files of one master's workers, in its private folder. */
export class WatchdogFiles {
  readonly #dir: string;
  readonly #shared: SharedMemory;
  readonly #fds = new Map<number, number>();
  readonly #bytes = new Uint8Array(BUFFER_BYTES);

  private constructor(dir: string, shared: SharedMemory) {
    this.#dir = dir;
    this.#shared = shared;
  }

  /** The files in `dir`; null where the runtime cannot share memory (the workers' threads report then). */
  static open(rt: Runtime, dir: string): WatchdogFiles | null {
    const shared = rt.sharedMemory();
    return shared === null ? null : new WatchdogFiles(dir, shared);
  }

  /** Where the worker of `age` maps its watchdog. */
  pathFor(age: number): string {
    return join(this.#dir, `watchdog-${age}`);
  }

  /** The heartbeat of worker `pid` as its file at `path` says now; null when it cannot be read. */
  read(pid: number, path: string): Heartbeat | null {
    try {
      let fd = this.#fds.get(pid);
      if (fd === undefined) this.#fds.set(pid, fd = openSync(path, "r"));
      if (readSync(fd, this.#bytes, 0, BUFFER_BYTES, 0) < BUFFER_BYTES) return null;
    } catch {
      return null; // Counted as silence: a worker whose file cannot be read is not taken for alive.
    }
    // The worker stamps its times on the machine's monotonic clock (worker.ts): so does this reading.
    return heartbeatOf(this.#bytes.buffer, pid, this.#shared.monotonicMs(), false);
  }

  /** Closes and removes the file of the worker `pid`, which exited. */
  forget(pid: number, path: string): void {
    const fd = this.#fds.get(pid);
    this.#fds.delete(pid);
    try {
      if (fd !== undefined) closeSync(fd);
      rmSync(path, { force: true });
    } catch { /* already gone */ }
  }
}
