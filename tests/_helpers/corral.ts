/**
 * Starts the real corral CLI, under the runtime running the tests, on free
 * loopback ports; waits on its log lines instead of sleeping; cleans up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import process from "node:process";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const IS_BUN = "Bun" in globalThis;
export const RUNTIME = IS_BUN ? "bun" : "deno";

/** The command that runs cli.ts (or another script) with the current runtime. */
export function cliCommand(script = "cli.ts", denoFlags = ["-A"]): string[] {
  return IS_BUN ? [process.execPath, script] : [process.execPath, "run", ...denoFlags, script];
}

/** A port that was free a moment ago. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `check()` is true; rejects after `ms`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch { /* not yet: a refused connection, say */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An orphan that exited stays a zombie until its new parent (PID 1 or a
  // subreaper) reaps it, which can take a second or more: it runs no more.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    // No /proc here (not Linux); on Linux, it was gone by now.
    return process.platform !== "linux";
  }
}

const running = new Set<Corral>();

/** A running corral CLI. */
export class Corral {
  readonly proc: ChildProcess;
  stderr = "";
  stdout = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  exitCode: number | null = null;
  /** It exited and its output is all read. */
  #closed = false;

  constructor(
    args: string[],
    options: {
      cwd?: string;
      env?: Readonly<Record<string, string>>;
      script?: string;
      denoFlags?: string[];
      /** The command before corral's arguments (a launcher's); the test runtime running cli.ts by default. */
      command?: readonly string[];
      /** A command that runs corral, such as `systemd-socket-activate -l PORT`. */
      wrap?: string[];
    } = {},
  ) {
    const [cmd, ...rest] = [
      ...(options.wrap ?? []),
      ...(options.command ?? cliCommand(options.script, options.denoFlags)),
    ];
    this.proc = spawn(cmd as string, [...rest, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout?.setEncoding("utf8");
    this.proc.stderr?.setEncoding("utf8");
    this.proc.stdout?.on("data", (d: string) => this.stdout += d);
    this.proc.stderr?.on("data", (d: string) => this.stderr += d);
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
      });
    });
    this.proc.on("close", () => this.#closed = true);
    running.add(this);
    this.exited.then(() => running.delete(this));
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** Worker pids from the "Booting worker with pid: N" lines. */
  workerPids(): number[] {
    return [...this.stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Waits for a log line matching `pattern`; fails fast if corral exits first. */
  async waitForLog(pattern: RegExp, ms = 15_000): Promise<void> {
    // waitFor takes a throwing check for "not yet": the end of the output ends the wait instead.
    await waitFor(
      `log ${pattern} (stderr so far:\n${this.stderr})`,
      () => pattern.test(this.stderr) || this.#closed,
      ms,
    );
    if (!pattern.test(this.stderr)) {
      throw new Error(
        `corral exited (${this.exitCode ?? this.proc.signalCode}) before logging ${pattern}:\n${this.stderr}`,
      );
    }
  }

  /** Waits until every worker is serving. */
  ready(ms = 15_000): Promise<void> {
    return this.waitForLog(/Ready: \d+ workers? serving/, ms);
  }

  /** Waits for the exit, bounded; kills it if it does not come. */
  async exit(ms = 10_000): Promise<{ code: number | null; signal: string | null }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      this.exited,
      new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
    ]);
    clearTimeout(timer);
    if (result === null) {
      await stopAll();
      throw new Error(`corral did not exit within ${ms} ms:\n${this.stderr}`);
    }
    return result;
  }

  kill(signal: NodeJS.Signals): void {
    try {
      // process.kill, not proc.kill: Deno's child_process reports a child it
      // signalled through proc.kill as killed by that signal, whatever its exit.
      process.kill(this.pid, signal);
    } catch { /* gone */ }
  }
}

/** Kills every corral a test started, and its workers. */
export async function stopAll(): Promise<void> {
  for (const c of running) {
    const workers = c.workerPids();
    c.kill("SIGKILL");
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await c.exited;
  }
}

/** Runs corral to completion with a bounded time; returns code and output. */
export async function runCorral(args: string[], ms = 15_000, env: Record<string, string> = {}) {
  const c = new Corral(args, { env });
  const { code } = await c.exit(ms);
  return { code, stderr: c.stderr, stdout: c.stdout };
}

/** The app the HTTP front's tests serve. */
export const FRONT_APP = "tests/apps/front_app.ts";

/** Deno permissions for all corral needs but FFI (-A without --allow-ffi): the fallbacks without libc. */
export const DENO_WITHOUT_FFI: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-run",
  "--allow-write",
  "--allow-sys",
];

/** Starts corral on a free loopback port with `args` before the app (the front's app by default). */
export async function startOnFreePort(
  args: string[],
  app = FRONT_APP,
): Promise<{ c: Corral; port: number }> {
  const port = await freePort();
  const c = new Corral(["-b", `127.0.0.1:${port}`, ...args, app]);
  await c.ready();
  return { c, port };
}

/**
 * Why zero-loss tests cannot run here, or false: they need the kernel to
 * move connections queued on a closing worker's listener to the others
 * (net.ipv4.tcp_migrate_req=1, Linux 5.14+; docs/RELIABILITY.md).
 */
export const ZERO_LOSS_SKIP: string | false = (() => {
  let setting = -1;
  try {
    setting = Number(readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8"));
  } catch { /* no such setting */ }
  return setting !== 1 &&
    "net.ipv4.tcp_migrate_req is not 1, so the kernel resets connections queued on a closing worker: " +
      "run `sysctl -w net.ipv4.tcp_migrate_req=1` (as .ci/run does)";
})();

/** Runs one of the repository's scripts (scripts/...) under the test runtime; resolves with its exit and output. */
export async function runScript(
  script: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...rest] = cliCommand(script);
  const child = spawn(cmd as string, [...rest, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => stdout += d);
  child.stderr?.on("data", (d) => stderr += d);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}
