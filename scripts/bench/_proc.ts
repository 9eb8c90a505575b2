/**
 * Process helpers for scripts/bench/main.ts: find tools, run a command, start a
 * server pinned to one core, read a process tree's CPU time from /proc and
 * stop the whole tree. Only node: built-ins, so it runs on Deno and Bun.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";

/** The executable `name` from `firstDirs`, then from $PATH; null if none. */
export function which(name: string, firstDirs: readonly string[] = []): string | null {
  for (const dir of [...firstDirs, ...(process.env.PATH ?? "").split(delimiter)]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* not in this folder */ }
  }
  return null;
}

/** What a finished command left. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, or kills it after `timeoutMs`. */
export function run(argv: readonly string[], timeoutMs: number): Promise<RunResult> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => stdout += d);
    child.stderr?.on("data", (d) => stderr += d);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Kernel clock ticks per second, the unit of utime and stime in /proc. */
export async function clockTicks(): Promise<number> {
  const { stdout } = await run(["getconf", "CLK_TCK"], 5000);
  const ticks = Number(stdout.trim());
  if (!(ticks > 0)) throw new Error(`Cannot read CLK_TCK: getconf printed "${stdout.trim()}"`);
  return ticks;
}

function _read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null; // The process (or thread) is gone.
  }
}

/**
 * `root` and all its descendants. A child is listed under the thread that
 * forked it, and runtimes spawn from helper threads, so every task's
 * children file is read.
 */
export function treePids(root: number): number[] {
  const found: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    found.push(pid);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch { /* gone */ }
    for (const tid of tasks) {
      const kids = _read(`/proc/${pid}/task/${tid}/children`) ?? "";
      for (const kid of kids.split(" ")) if (kid.trim()) todo.push(Number(kid));
    }
  }
  return found;
}

/** The fields of /proc/PID/stat after "(comm)": [0] is field 3, the state. */
function _stat(pid: number | "self"): string[] | null {
  const stat = _read(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime + stime of one process, all threads included, in clock ticks. */
function _cpuTicks(pid: number): number {
  const fields = _stat(pid);
  // utime and stime are fields 14 and 15.
  return fields ? Number(fields[11]) + Number(fields[12]) : 0;
}

/** CPU ticks used so far by each process of a tree. */
export function treeTicks(root: number): Map<number, number> {
  return new Map(treePids(root).map((pid) => [pid, _cpuTicks(pid)]));
}

/**
 * A process's CPU time so far, two ways: utime + stime in clock ticks
 * (exact for the whole process, ended threads included, but in steps of
 * 10 ms: 1 % of a one-second run), and each live thread's run time in
 * nanoseconds, from the scheduler (/proc/PID/task/TID/schedstat).
 */
export interface CpuMark {
  readonly ticks: number;
  /** Nanoseconds on a CPU, by thread id. */
  readonly threads: ReadonlyMap<number, number>;
}

/** The {@link CpuMark} of one process. */
export function cpuMark(pid: number): CpuMark {
  const threads = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch { /* gone */ }
  for (const tid of tids) {
    const ns = Number((_read(`/proc/${pid}/task/${tid}/schedstat`) ?? "").split(" ")[0]);
    if (Number.isFinite(ns)) threads.set(Number(tid), ns);
  }
  return { ticks: _cpuTicks(pid), threads };
}

/** {@link CpuMark}s of each process of a tree. */
export function treeCpu(root: number): Map<number, CpuMark> {
  return new Map(treePids(root).map((pid) => [pid, cpuMark(pid)]));
}

/**
 * Seconds of CPU a process used between two marks: from its threads'
 * nanoseconds, unless a thread ended in between (it took its time with
 * it), then from the ticks. A thread started in between counts whole.
 */
export function cpuSecondsBetween(before: CpuMark | undefined, after: CpuMark, clockTicks: number): number {
  if (before === undefined) return after.ticks / clockTicks;
  let ns = 0;
  for (const [tid, then] of before.threads) {
    const now = after.threads.get(tid);
    if (now === undefined) return (after.ticks - before.ticks) / clockTicks;
    ns += now - then;
  }
  for (const [tid, now] of after.threads) if (!before.threads.has(tid)) ns += now;
  return ns / 1e9;
}

/**
 * CPU ticks of this process plus the children it has reaped (the load
 * generators), so that their time can be told apart from anybody else's.
 */
export function ownTicks(): number {
  // utime, stime, cutime, cstime are fields 14 to 17.
  return (_stat("self") ?? []).slice(11, 15).reduce((sum, n) => sum + Number(n), 0);
}

/** Resident memory of one process (`VmRSS` in /proc/PID/status), in KiB; NaN when it is gone. */
export function rssKiB(pid: number): number {
  const status = _read(`/proc/${pid}/status`) ?? "";
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : NaN;
}

/**
 * Memory only this process holds (Private_Clean + Private_Dirty of
 * /proc/PID/smaps_rollup), in KiB; NaN when it is gone. RSS also counts
 * the pages it shares with its siblings (the runtime's executable, mapped
 * caches): one more worker costs its private memory, not its RSS.
 */
export function privateKiB(pid: number): number {
  const rollup = _read(`/proc/${pid}/smaps_rollup`);
  if (rollup === null) return NaN;
  let kib = 0;
  for (const match of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kib += Number(match[1]);
  return kib;
}

/** Busy and total ticks of one core since boot, from /proc/stat. */
export function coreTicks(cpu: number): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `)) ?? "";
  // user nice system idle iowait irq softirq steal: steal is time the VM host took away.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

function _alive(pid: number): boolean {
  const fields = _stat(pid);
  return fields !== null && fields[0] !== "Z";
}

function _signal(pids: readonly number[], signal: "SIGTERM" | "SIGKILL"): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch { /* already gone */ }
  }
}

const _live = new Set<Server>();

/** Kills every server still running, at once; for exit and error paths. */
export function killAllServers(): void {
  for (const server of _live) server.kill();
}

/** A server process tree started under `taskset`. */
export class Server {
  readonly #child: ChildProcess;
  #stderr = "";
  #exited = false;
  #exitWaiters: (() => void)[] = [];

  /** Starts `argv` pinned to `cpu`, with `env` added; its workers inherit the pinning. */
  constructor(argv: readonly string[], cpu: number, cwd: string, env: Readonly<Record<string, string>> = {}) {
    // taskset execs the command, so the pid is the server's own.
    this.#child = spawn("taskset", ["-c", String(cpu), ...argv], {
      cwd,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...env },
    });
    this.#child.stderr?.on("data", (d) => this.#stderr = (this.#stderr + d).slice(-20_000));
    this.#child.on("exit", () => {
      this.#exited = true;
      _live.delete(this);
      for (const wake of this.#exitWaiters.splice(0)) wake();
    });
    _live.add(this);
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The last 20 kB of its stderr, for error messages. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves once stderr matches `pattern`; rejects on exit or timeout. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#child.stderr?.off("data", check);
        this.#child.off("exit", onExit);
        err ? reject(err) : resolve();
      };
      const check = () => pattern.test(this.#stderr) && done();
      const onExit = () => done(new Error(`Server exited before logging ${pattern}:\n${this.#stderr}`));
      const timer = setTimeout(
        () => done(new Error(`No ${pattern} within ${timeoutMs} ms:\n${this.#stderr}`)),
        timeoutMs,
      );
      this.#child.stderr?.on("data", check);
      this.#child.on("exit", onExit);
      if (this.#exited) onExit();
      check();
    });
  }

  /** SIGTERM to the tree, then SIGKILL to whatever is left after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    // Collected first: once the master is gone, its workers are no longer its children.
    const pids = treePids(this.pid);
    _signal(pids, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (pids.some(_alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    _signal(pids.filter(_alive), "SIGKILL");
    if (!this.#exited) await new Promise<void>((resolve) => this.#exitWaiters.push(resolve));
  }

  /** SIGKILL to the whole tree, synchronously. */
  kill(): void {
    if (!this.#exited) _signal(treePids(this.pid), "SIGKILL");
  }
}
