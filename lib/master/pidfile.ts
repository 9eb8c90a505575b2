/**
 * The master's pid file (-p/--pid). Its folder may be writable by others
 * (/tmp, /run/user, a shared app folder): a symbolic link planted at the
 * path must not make corral, often root, write or remove another file. So
 * the path is never followed: a symlink there is refused; the pid is
 * written to a new file of a random name (created exclusively, no symlink
 * followed) in the same folder, then renamed into place, which replaces
 * whatever stands at the path without following it; and at exit the file
 * is removed only while it still holds our pid.
 * @module
 */
import { closeSync, constants, lstatSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { BootError, describeError } from "../errors.ts";

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;

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

/** The pid in the file at `path`, never through a symlink; null when none. */
function _readPid(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const buffer = new Uint8Array(32);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    const pid = Number(new TextDecoder().decode(buffer.subarray(0, n)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** What stands at `path`, without following a symlink: null for nothing. */
function _kind(path: string): "file" | "symlink" | "other" | null {
  try {
    const stat = lstatSync(path);
    return stat.isSymbolicLink() ? "symlink" : stat.isFile() ? "file" : "other";
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return null;
    throw new BootError(`Cannot write --pid "${path}": ${describeError(err)}`, { cause: err });
  }
}

/** Writes `text` to a new file beside `path`, then renames it to `path`. */
function _writeReplacing(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}`);
  // O_EXCL: a file (or symlink) someone created at this name is an error, never written through.
  const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, text);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
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
   * @throws {BootError} when the path is a symlink or no regular file, a live process holds it, or it
   * cannot be written.
   */
  static create(path: string): Pidfile {
    const kind = _kind(path);
    if (kind === "symlink") {
      throw new BootError(
        `Cannot write --pid "${path}": it is a symbolic link, which corral never follows ` +
          "(someone who can write its folder could point it at any file); remove it or name a file",
      );
    }
    if (kind === "other") {
      throw new BootError(`Cannot write --pid "${path}": it exists and is not a regular file`);
    }
    const holder = _readPid(path);
    if (holder !== null && holder !== process.pid && isAlive(holder)) {
      throw new BootError(
        `Cannot write --pid "${path}": it holds pid ${holder}, which is running (another corral?)`,
      );
    }
    try {
      _writeReplacing(path, `${process.pid}\n`);
    } catch (err) {
      throw new BootError(`Cannot write --pid "${path}": ${describeError(err)}`, { cause: err });
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

  /** Removes the file, if it still holds our pid (another process's, or a symlink, stays). */
  remove(): void {
    if (_readPid(this.#path) === process.pid) rmSync(this.#path, { force: true });
  }
}
