/**
 * The chaos scenario of scripts/stress/main.ts: random HUPs, TTINs,
 * TTOUs, USR2 upgrades and SIGKILLed workers at random gaps of 50 ms to
 * 1.5 s, with --max-requests recycling workers all along, under both
 * loads. The sequence comes from a seed that is printed, so that a failure
 * can be replayed (`--seed`). No request may fail but those on the
 * connections a SIGKILLed worker held: before each kill the worker is
 * stopped (SIGSTOP) and the client ports of the connections it holds are
 * read from /proc, so the allowance is exact, not a time window.
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { alive, type Corral, until } from "./_corral.ts";
import type { Failure, Load } from "./_load.ts";
import type { Context, Scenario } from "./_scenarios.ts";

const WAIT_MS = 60_000;
const MIN_GAP_MS = 50;
const MAX_GAP_MS = 1500;
const MAX_WORKERS = 4;
/** About how often each worker is recycled by --max-requests, in seconds. */
const RECYCLE_S = 4;
const NEW_MASTER = /Upgrade: started a new master with pid (\d+)/g;
const UPGRADE_DONE = /Upgrade: serving|Upgrade failed/g;
const UPGRADE_SERVING = /Upgrade: serving/g;

/** mulberry32: a small deterministic PRNG, so a run replays from its seed. */
export function prng(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6D2B79F5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The parent pid of `pid`, or null once it is gone. */
function _ppid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/**
 * The client ports of the TCP connections to `serverPort` that process
 * `pid` holds (accepted by it: in its descriptor table).
 */
export async function clientPorts(pid: number, serverPort: number): Promise<Set<number>> {
  const inodes = _socketInodes(pid);
  const rows = (await _tcpRows(serverPort)).filter((r) => r.state !== "0A" && inodes.has(r.inode));
  return new Set(rows.map((r) => r.remote));
}

/** The inodes of `pid`'s sockets. */
function _socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch { /* closed meanwhile */ }
  }
  return inodes;
}

/**
 * The rows of /proc/net/tcp and tcp6 whose local port is `port`. Read
 * asynchronously and searched for the port rather than split line by line:
 * under load the tables hold tens of thousands of lines, and a synchronous
 * read and split took 50-150 ms. That stalled this process's own clients,
 * and a draining worker then found them quiet, closed their idle
 * keep-alive connections, and their next requests, sent in one burst,
 * failed: a failure of the test, not of corral.
 */
async function _tcpRows(port: number): Promise<{ remote: number; state: string; inode: string }[]> {
  const rows = [];
  const needle = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = await readFile(table, "latin1");
    } catch {
      continue;
    }
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      const start = text.lastIndexOf("\n", at) + 1;
      const end = text.indexOf("\n", at);
      const f = text.slice(start, end < 0 ? undefined : end).trim().split(/\s+/);
      const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]];
      if (!local?.endsWith(needle.trimEnd()) || !remote || !state || !inode) continue;
      rows.push({ remote: parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16), state, inode });
      if (end < 0) break;
      at = end;
    }
  }
  return rows;
}

/** Whether any of `pids` holds a socket listening on `port` (a worker that accepts there). */
export async function listensOn(pids: readonly number[], port: number): Promise<boolean> {
  const listening = new Set((await _tcpRows(port)).filter((r) => r.state === "0A").map((r) => r.inode));
  return pids.some((pid) => {
    try {
      return [..._socketInodes(pid)].some((inode) => listening.has(inode));
    } catch {
      return false; // gone
    }
  });
}

/** A worker killed by the scenario, and the client ports of the connections it held. */
interface Victim {
  readonly pid: number;
  readonly ports: ReadonlySet<number>;
}

function _onVictim(f: Failure, victims: readonly Victim[]): boolean {
  return victims.some((v) =>
    (f.localPort !== null && v.ports.has(f.localPort)) || (f.reused && f.pid === v.pid)
  );
}

/** What the run does, event by event; `master` is the pid in charge. */
class _Chaos {
  readonly #ctx: Context;
  readonly #random: () => number;
  readonly victims: Victim[] = [];
  readonly counts = new Map<string, number>();
  master: number;
  target: number;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.#random = prng(ctx.seed);
    this.master = ctx.corral.pid;
    this.target = ctx.workers;
  }

  get #corral(): Corral {
    return this.#ctx.corral;
  }

  #note(event: string): void {
    this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
    this.#ctx.mark(event);
  }

  /** The workers of the master in charge. */
  workers(): number[] {
    return this.#corral.liveWorkers().filter((pid) => _ppid(pid) === this.master);
  }

  /** Picks and carries out one event; resolves once it is sent (a USR2: once it is over). */
  async step(): Promise<void> {
    const pick = this.#random();
    const choice = this.#random();
    if (pick < 0.35) return this.#signal("HUP");
    if (pick < 0.5) return this.target < MAX_WORKERS ? this.#scale(+1) : this.#signal("HUP");
    if (pick < 0.65) return this.target > 1 ? this.#scale(-1) : this.#signal("HUP");
    if (pick < 0.82) return await this.#kill(choice);
    if (pick < 0.9) return await this.#upgrade();
    this.#note("pause");
  }

  #signal(name: "HUP"): void {
    this.#note(name);
    this.#corral.signalPid(this.master, `SIG${name}`);
  }

  #scale(by: 1 | -1): void {
    this.target += by;
    this.#note(by > 0 ? "TTIN" : "TTOU");
    this.#corral.signalPid(this.master, by > 0 ? "SIGTTIN" : "SIGTTOU");
  }

  /** SIGKILLs a worker that has served, after reading which connections it holds. */
  async #kill(choice: number): Promise<void> {
    const served = this.workers().filter((pid) => this.#ctx.loads.some((l) => l.pids.has(pid)));
    const victim = served[Math.floor(choice * served.length)];
    if (victim === undefined) return this.#note("pause");
    this.#corral.signalPid(victim, "SIGSTOP");
    // Killing the only worker that accepts refuses every new connection until
    // its replacement serves, whatever the master does: not a fair test.
    const others = this.#corral.liveWorkers().filter((pid) => pid !== victim);
    if (!await listensOn(others, this.#ctx.port)) {
      this.#corral.signalPid(victim, "SIGCONT");
      return this.#note("pause (only one worker accepts)");
    }
    // Stopped, it accepts nothing more: what it holds now is what dies with it.
    let ports: Set<number>;
    try {
      ports = await clientPorts(victim, this.#ctx.port);
    } catch {
      return this.#note("pause (the worker exited meanwhile)"); // Recycled between the pick and the stop.
    } finally {
      this.#corral.signalPid(victim, "SIGKILL");
    }
    this.victims.push({ pid: victim, ports });
    this.#note("SIGKILL");
    await until(`worker ${victim} to die`, () => !alive(victim), WAIT_MS);
  }

  /** USR2, then waits until the new master serves (or failed): the next events go to it. */
  async #upgrade(): Promise<void> {
    const started = this.#corral.count(NEW_MASTER);
    const done = this.#corral.count(UPGRADE_DONE);
    const served = this.#corral.count(UPGRADE_SERVING);
    this.#note("USR2");
    this.#corral.signalPid(this.master, "SIGUSR2");
    await this.#corral.waitForLog(NEW_MASTER, started + 1, WAIT_MS, true);
    await this.#corral.waitForLog(UPGRADE_DONE, done + 1, WAIT_MS, true);
    if (this.#corral.count(UPGRADE_SERVING) > served) {
      const newest = [...this.#corral.log.matchAll(NEW_MASTER)].pop();
      this.master = Number(newest?.[1]);
      this.target = this.#ctx.workers; // The new master starts from the command line.
      await until("the old master to exit", () => this.#corral.masters().filter(alive).length === 1, WAIT_MS);
    }
  }

  /** Until only the master in charge runs, with exactly its target of workers. */
  async settle(): Promise<void> {
    await until(
      `${this.target} workers of master ${this.master}, and no other process`,
      () => {
        const live = this.#corral.liveWorkers();
        return live.length === this.target && this.workers().length === this.target &&
          this.#corral.masters().filter(alive).length === 1;
      },
      WAIT_MS,
    );
  }
}

/** The chaos scenario. */
export const chaos: Scenario = {
  name: "chaos",
  summary: "random HUP, TTIN, TTOU, USR2, SIGKILL at 50 ms-1.5 s gaps, with --max-requests (--seed)",
  args: (perWorkerRate) => {
    const max = Math.max(100, Math.round(perWorkerRate * RECYCLE_S));
    return ["--max-requests", String(max), "--max-requests-jitter", String(Math.round(max / 2))];
  },
  async run(ctx) {
    const random = prng(ctx.seed ^ 0x5bd1e995);
    const run = new _Chaos(ctx);
    const end = Date.now() + ctx.seconds * 1000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, MIN_GAP_MS + random() * (MAX_GAP_MS - MIN_GAP_MS)));
      await run.step();
    }
    await run.settle();
    const events = [...run.counts].map(([e, n]) => `${n} ${e}`).join(", ");
    const allowed = new Map<Load, { count: number; why: string }>();
    for (const load of ctx.loads) {
      const count = load.failures.filter((f) => _onVictim(f, run.victims)).length;
      allowed.set(load, { count, why: "on a SIGKILLed worker's connections" });
    }
    return { notes: [`seed ${ctx.seed}: ${events}`], allowed };
  },
};
