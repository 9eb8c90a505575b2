/**
 * `--reload`, for development: watches the app's folder (and the config
 * file) and, once saving has settled, asks the master for a rolling reload
 * by sending it HUP, as an operator would. The arbiter needs no other hook.
 *
 * One non-recursive watcher a folder, not one recursive watcher: a project
 * folder holds node_modules, whose thousands of folders would use up the
 * kernel's inotify watches for files no one edits.
 * @module
 */
import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { describeError } from "../errors.ts";
import { logger } from "../log.ts";

/** Folders never watched: dependencies and version control. Dot-folders are skipped too. */
export const IGNORED_DIRS: ReadonlySet<string> = new Set(["node_modules", "__pycache__"]);

/** Past this many folders, the rest are not watched (and a warning says so). */
export const MAX_WATCHED_DIRS = 2000;

/** Editors' swap and backup files: saving a file writes these too. */
const _EDITOR_FILES = /(~|\.swp|\.swx|\.swo|\.tmp|\.bak|\.crswap|^4913|^\.#.*)$/;

/**
 * Whether a path (relative to a watched root) is one a save should not
 * reload for: inside an ignored or dot folder, a dot-file, or an editor's
 * temporary file.
 */
export function isIgnored(relPath: string): boolean {
  const parts = relPath.split(/[\\/]/).filter((p) => p !== "");
  const name = parts.pop() ?? "";
  if (parts.some((p) => p.startsWith(".") || IGNORED_DIRS.has(p))) return true;
  return name.startsWith(".") || IGNORED_DIRS.has(name) || _EDITOR_FILES.test(name);
}

/** Options of {@link Reloader.start}. */
export interface ReloaderOptions {
  /** Folders watched with everything under them. */
  readonly roots: readonly string[];
  /** Single files watched besides (a config file outside the roots). */
  readonly files?: readonly string[];
  /** Quiet time after the last change before `onChange` (default 200 ms). */
  readonly debounceMs?: number;
  /** Called once a burst of changes has settled, with the changed paths. */
  readonly onChange: (paths: string[]) => void;
}

/** Watches folders and files; reports changes in debounced bursts. */
export class Reloader {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #options: ReloaderOptions;
  readonly #changed = new Set<string>();
  /** The names in each watched folder, to tell a removal from a stray event. */
  readonly #names = new Map<string, Set<string>>();
  readonly #log = logger("reloader");
  #timer: ReturnType<typeof setTimeout> | undefined;
  #warnedLimit = false;
  #closed = false;

  private constructor(options: ReloaderOptions) {
    this.#options = options;
  }

  /**
   * Starts watching.
   *
   * @example
   * ```ts
   * const reloader = Reloader.start({ roots: ["./src"], onChange: (paths) => console.log(paths) });
   * reloader.close();
   * ```
   */
  static start(options: ReloaderOptions): Reloader {
    const reloader = new Reloader(options);
    for (const root of options.roots) reloader.#watchTree(resolve(root));
    for (const file of options.files ?? []) reloader.#watchFile(resolve(file));
    return reloader;
  }

  /** The folders being watched. */
  get folders(): string[] {
    return [...this.#watchers.keys()];
  }

  #watchTree(dir: string): void {
    if (this.#closed || this.#watchers.has(dir)) return;
    if (this.#watchers.size >= MAX_WATCHED_DIRS) {
      if (!this.#warnedLimit) {
        this.#warnedLimit = true;
        this.#log.warning("--reload watches only the first {n} folders; {dir} and others are not", {
          n: MAX_WATCHED_DIRS,
          dir,
        });
      }
      return;
    }
    if (!this.#watch(dir, (name) => this.#onEvent(dir, name))) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // Gone already, or unreadable: nothing under it to watch.
    }
    this.#names.set(dir, new Set(entries.map((e) => e.name)));
    for (const entry of entries) {
      if (entry.isDirectory() && !isIgnored(entry.name)) this.#watchTree(join(dir, entry.name));
    }
  }

  #watchFile(file: string): void {
    const dir = dirname(file);
    // A file in a watched folder is seen already (unless it is a dot-file).
    if (this.#watchers.has(dir) && !isIgnored(basename(file))) return;
    this.#watch(`${dir}\0${basename(file)}`, (name) => {
      if (name !== basename(file)) return;
      this.#changed.add(file);
      this.#schedule();
    }, dir);
  }

  #watch(key: string, onName: (name: string) => void, dir = key): boolean {
    try {
      // recursive: false said outright: Deno's node:fs otherwise watches the whole tree.
      const watcher = watch(dir, { persistent: false, recursive: false }, (_event, name) => {
        if (name !== null && name !== undefined) onName(String(name));
      });
      watcher.on("error", (err: unknown) => {
        // A watched folder that is removed ends its watcher; the parent's
        // watcher sees the removal and reloads.
        this.#log.debug("Stopped watching {dir}: {message}", { dir, message: describeError(err) });
        watcher.close();
        this.#watchers.delete(key);
      });
      this.#watchers.set(key, watcher);
      return true;
    } catch (err) {
      this.#log.warning("--reload cannot watch {dir}: {message}", { dir, message: describeError(err) });
      return false;
    }
  }

  #onEvent(dir: string, name: string): void {
    if (isIgnored(name)) return;
    const path = join(dir, name);
    const names = this.#names.get(dir) ?? new Set();
    try {
      const stat = statSync(path);
      names.add(name);
      // A folder created (or moved in) after the start gets its watchers.
      if (stat.isDirectory()) return this.#watchTree(path);
    } catch {
      // Gone: a change if it was there. Deno also reports a file of a
      // subfolder to the parent's watcher, by its bare name: not one of ours.
      if (!names.delete(name)) return;
    }
    this.#changed.add(path);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const paths = [...this.#changed].sort();
      this.#changed.clear();
      if (paths.length) this.#options.onChange(paths);
    }, this.#options.debounceMs ?? 200);
  }

  /** Stops every watcher; no `onChange` after this. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#names.clear();
  }
}

/**
 * What `--reload` does on a change: logs the changed file, relative to
 * `cwd`, and sends this process (the master) HUP, a rolling reload.
 */
export function reloadMaster(paths: readonly string[], cwd: string = process.cwd()): void {
  const path = paths[0] ?? "";
  const rel = relative(cwd, path);
  const first = rel && !rel.startsWith("..") ? rel : path;
  const others = paths.length - 1;
  logger("reloader").info("Reloading: {file} changed{more}", {
    file: first,
    more: others > 0 ? ` (and ${others} other file${others === 1 ? "" : "s"})` : "",
  });
  process.kill(process.pid, "SIGHUP");
}
