/**
 * The master's pid file (-p/--pid).
 * @module
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { BootError, describeError } from "../errors.ts";

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, but belongs to someone else.
    return (err as { code?: string }).code === "EPERM";
  }
}

function _readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A pid file this process wrote. */
export class Pidfile {
  #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  /**
   * Writes this process's pid to `path`.
   * @throws {BootError} when a live process holds the file, or it cannot be written.
   */
  static create(path: string): Pidfile {
    const holder = _readPid(path);
    if (holder !== null && holder !== process.pid && isAlive(holder)) {
      throw new BootError(
        `Cannot write --pid "${path}": it holds pid ${holder}, which is running (another corral?)`,
      );
    }
    try {
      writeFileSync(path, `${process.pid}\n`);
    } catch (err) {
      throw new BootError(`Cannot write --pid "${path}": ${describeError(err)}`);
    }
    return new Pidfile(path);
  }

  get path(): string {
    return this.#path;
  }

  /** Moves the file aside (USR2: the new master writes the real one). */
  rename(to: string): void {
    try {
      renameSync(this.#path, to);
      this.#path = to;
    } catch { /* gone already */ }
  }

  /** Removes the file, if it still holds our pid. */
  remove(): void {
    if (_readPid(this.#path) === process.pid) rmSync(this.#path, { force: true });
  }
}
