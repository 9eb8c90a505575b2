/**
 * The master's private folder in the temp directory (mode 0700): its
 * supervision socket lives there. It is removed whenever the master exits,
 * and a master that could not remove its own (it was SIGKILLed) leaves it
 * to the next one: every master removes, at start, the folders of masters
 * that are dead. Each folder holds an `owner` file with its master's pid
 * and the kernel's start time of that process, so a reused pid is not
 * taken for the owner.
 * @module
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isAlive } from "./pidfile.ts";

/** The prefix of every master's folder in the temp directory. */
export const PREFIX = "corral-";
const OWNER = "owner";

/** The kernel's start time of `pid` (clock ticks since boot), or null where /proc cannot tell. */
export function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; the command (field 2) may hold spaces and parentheses, so count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the master that wrote `owner` text is gone. */
function _ownerGone(text: string): boolean {
  const [pidText, started] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (!isAlive(pid)) return true;
  const now = startTime(pid);
  return started !== undefined && started !== "-" && now !== null && now !== started;
}

/**
 * Removes the folders of dead masters in `dir` owned by `uid` (another
 * user's are not ours to judge). Returns how many.
 */
export function removeStale(uid: number, dir = tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isDirectory() || stat.uid !== uid) continue;
      // A folder without an owner file is being made by a master starting now, or predates them.
      const text = readFileSync(join(path, OWNER), "utf8");
      if (!_ownerGone(text)) continue;
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch { /* not ours, or gone meanwhile */ }
  }
  return removed;
}

/** A master's private folder. */
export class PrivateDir {
  readonly path: string;
  #removed = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Creates a fresh folder (mkdtemp makes it 0700), writes its owner file,
   * and removes the folders that dead masters of the same user left.
   */
  static create(dir = tmpdir()): PrivateDir {
    const path = mkdtempSync(join(dir, PREFIX));
    writeFileSync(join(path, OWNER), `${process.pid} ${startTime(process.pid) ?? "-"}\n`, { mode: 0o600 });
    // Our own folder's owner is our user: no permission needed to ask the system (Deno's --allow-sys).
    removeStale(lstatSync(path).uid, dir);
    return new PrivateDir(path);
  }

  /** Removes the folder and everything in it; safe to call more than once. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    rmSync(this.path, { recursive: true, force: true });
  }
}
