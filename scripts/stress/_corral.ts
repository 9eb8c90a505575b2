/**
 * A corral under stress: started from cli.ts on a free loopback port,
 * followed through its error log (the only readiness signal used: no
 * fixed sleeps), signalled, and stopped with every process it started,
 * including a USR2 upgrade's new master, which is not our child.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";

/** The runtimes corral runs on. */
export type RuntimeName = "deno" | "bun";

/** Each process's start-up log lines, as lib/master/arbiter.ts writes them. */
const BOOTED = /Booting worker with pid: (\d+)/g;
const NEW_MASTER = /Upgrade: started a new master with pid (\d+)/g;
/** Enough log for every scenario; older lines are dropped past it. */
const MAX_LOG_CHARS = 4_000_000;
const POLL_MS = 20;

const _live = new Set<Corral>();

/** Resolves when `check()` holds; rejects with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function _cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return null;
  }
}

/**
 * Alive: not gone and not a zombie. A process's sockets close when its
 * last thread exits, and the main thread of a runtime turns zombie before
 * its helper threads are gone, so a zombie with threads left is alive.
 */
export function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z") return true;
  try {
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** Kills every corral still running, at once: for exit and signal paths. */
export function killAll(): void {
  for (const c of _live) c.kill();
}

/** One corral master (and, after USR2, its successor) with all its workers. */
export class Corral {
  readonly #child: ChildProcess;
  readonly #root: string;
  #log = "";
  #exited = false;
  #listeners = new Set<() => void>();

  /** Runs `command` (the runtime and cli.ts) with `args`, from `root`; `env` adds to ours. */
  constructor(
    command: readonly string[],
    args: readonly string[],
    root: string,
    env: Readonly<Record<string, string>> = {},
  ) {
    const [program, ...rest] = command as [string, ...string[]];
    this.#root = root;
    this.#child = spawn(program, [...rest, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#child.stderr?.setEncoding("utf8");
    this.#child.stderr?.on("data", (chunk: string) => {
      this.#log = (this.#log + chunk).slice(-MAX_LOG_CHARS);
      for (const listener of [...this.#listeners]) listener();
    });
    this.#child.on("exit", () => {
      this.#exited = true;
      for (const listener of [...this.#listeners]) listener();
    });
    _live.add(this);
  }

  /** The first master: our child. */
  get pid(): number {
    return this.#child.pid as number;
  }

  /** The first master has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Everything the masters and workers logged. */
  get log(): string {
    return this.#log;
  }

  /** Worker pids in boot order, from every master. */
  workers(): number[] {
    return [...this.#log.matchAll(BOOTED)].map((m) => Number(m[1]));
  }

  /** Master pids: the first one, then any USR2 successors. */
  masters(): number[] {
    return [this.pid, ...[...this.#log.matchAll(NEW_MASTER)].map((m) => Number(m[1]))];
  }

  /** The master now in charge: the newest one alive. */
  master(): number {
    return this.masters().filter(alive).pop() ?? this.pid;
  }

  /** Workers alive now. */
  liveWorkers(): number[] {
    return this.workers().filter(alive);
  }

  /** How often `pattern` (with the g flag) appears in the log. */
  count(pattern: RegExp): number {
    return [...this.#log.matchAll(pattern)].length;
  }

  /**
   * Resolves once `pattern` has appeared `times` times in the log; rejects
   * if the first master exits first (unless `afterExit`) or after `timeoutMs`.
   */
  waitForLog(pattern: RegExp, times = 1, timeoutMs = 30_000, afterExit = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        err ? reject(err) : resolve();
      };
      const check = () => {
        if (this.count(pattern) >= times) return done();
        if (this.#exited && !afterExit) done(new Error(`corral exited before logging ${pattern} ×${times}`));
      };
      const timer = setTimeout(
        () => done(new Error(`No ${pattern} ×${times} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends `signal` to the master in charge. */
  signal(signal: NodeJS.Signals): void {
    this.#send(this.master(), signal);
  }

  /** Sends `signal` to one process of ours. */
  signalPid(pid: number, signal: NodeJS.Signals): void {
    this.#send(pid, signal);
  }

  /** Whether `pid` is one of the processes this corral started (the pid was not reused). */
  #ours(pid: number): boolean {
    const cmdline = _cmdline(pid);
    return cmdline !== null && (cmdline.includes("--corral-worker") || cmdline.includes("cli.ts") ||
      cmdline.includes(this.#root));
  }

  #send(pid: number, signal: NodeJS.Signals): void {
    if (!this.#ours(pid)) return;
    try {
      process.kill(pid, signal);
    } catch { /* gone */ }
  }

  #all(): number[] {
    return [...this.masters(), ...this.workers()].filter(alive);
  }

  /** TERM to the masters; SIGKILL to whatever is left after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    for (const pid of this.masters()) this.#send(pid, "SIGTERM");
    try {
      await until("corral to stop", () => this.#all().length === 0 && this.#exited, graceMs);
    } catch {
      this.kill();
      await until("corral to die", () => this.#all().length === 0 && this.#exited, 5000).catch(() => {});
    }
    _live.delete(this);
  }

  /** SIGKILL to every process of ours still alive, synchronously. */
  kill(): void {
    for (const pid of this.#all()) this.#send(pid, "SIGKILL");
  }
}
