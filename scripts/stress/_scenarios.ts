/**
 * The events scripts/stress/main.ts puts corral through while the load runs.
 * Each waits on what corral logs or on the load seeing a worker answer,
 * never on a fixed sleep, and returns notes for the table.
 * @module
 */
import { alive, type Corral, until } from "./_corral.ts";
import { chaos } from "./_chaos.ts";
import { reloads } from "./_reloads.ts";
import type { Load } from "./_load.ts";

/** What a scenario gets: a corral that is ready, and the loads running against it. */
export interface Context {
  readonly corral: Corral;
  /** One load per mode, all running. */
  readonly loads: readonly Load[];
  readonly workers: number;
  readonly quick: boolean;
  /** The port corral serves. */
  readonly port: number;
  /** chaos: the seed of its random events, and for how long. */
  readonly seed: number;
  readonly seconds: number;
  /** reloads: how many HUPs. */
  readonly reloads: number;
  /** Notes an event on the timeline that --verbose prints. */
  readonly mark: (event: string) => void;
}

/** What a scenario reports beside the counts. */
export interface Outcome {
  /** Notes for every row of the scenario. */
  readonly notes: string[];
  /** Notes for one load mode's row only. */
  readonly perLoad?: ReadonlyMap<Load, string[]>;
  /**
   * Failures the scenario allows, per load, and why (a SIGKILL fails what
   * was in flight in the worker); absent: none.
   */
  readonly allowed?: ReadonlyMap<Load, { readonly count: number; readonly why: string }>;
}

/** One scenario. */
export interface Scenario {
  readonly name: string;
  readonly summary: string;
  /** Extra corral flags, given the requests per second each worker gets. */
  readonly args: (perWorkerRate: number) => string[];
  readonly run: (ctx: Context) => Promise<Outcome>;
  /** Runs only when named (--scenario): a measurement of many minutes. */
  readonly long?: boolean;
}

const WAIT_MS = 60_000;
/** How late this script may notice a worker's death (it polls /proc). */
const DEATH_SLACK_MS = 5;
const RELOADED = /Reloaded: \d+ new workers? serving/g;
const RECYCLING = /\(--max-requests\): recycling/g;
/** About how often a worker is recycled under the scenario's load, in seconds. */
const RECYCLE_S = 3;
const UPGRADED = /Upgrade: serving/g;

/** Until exactly the pool's size of workers is alive: everything retired has drained and exited. */
function _settled(ctx: Context, what: string, timeoutMs = WAIT_MS): Promise<void> {
  return until(what, () => ctx.corral.liveWorkers().length === ctx.workers, timeoutMs);
}

/** Until some load has had an answer from `pid`: it serves. */
async function _serves(ctx: Context, pid: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.any(ctx.loads.map((l) => l.served(pid))),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Worker ${pid} served nothing in ${WAIT_MS} ms`)), WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}

function _newWorker(ctx: Context, known: readonly number[]): Promise<number> {
  let pid = 0;
  return until("a new worker to boot", () => {
    pid = ctx.corral.workers().find((p) => !known.includes(p)) ?? 0;
    return pid > 0;
  }, WAIT_MS).then(() => pid);
}

const steady: Scenario = {
  name: "steady",
  summary: "no event: the control, which must lose nothing",
  args: () => [],
  async run(ctx) {
    const seconds = ctx.quick ? 2 : 5;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return { notes: [`${seconds} s of load, no event`] };
  },
};

const hup: Scenario = {
  name: "hup",
  summary: "HUP reloads in a row, each once the previous generation serves",
  args: () => [],
  async run(ctx) {
    const times = ctx.quick ? 3 : 10;
    const started = Date.now();
    for (let i = 1; i <= times; i++) {
      ctx.mark("HUP");
      ctx.corral.signal("SIGHUP");
      await ctx.corral.waitForLog(RELOADED, i, WAIT_MS);
      ctx.mark("reloaded");
    }
    await _settled(ctx, "the old generations to drain");
    const workers = ctx.corral.workers().length;
    return {
      notes: [`${times} HUPs, ${workers} workers booted, ${((Date.now() - started) / 1000).toFixed(1)} s`],
    };
  },
};

const ttinTtou: Scenario = {
  name: "ttin-ttou",
  summary: "TTIN, once the new worker serves TTOU, until the oldest has drained",
  args: () => [],
  async run(ctx) {
    const before = ctx.corral.workers();
    ctx.mark("TTIN");
    ctx.corral.signal("SIGTTIN");
    const added = await _newWorker(ctx, before);
    await _serves(ctx, added);
    ctx.mark(`TTOU (${added} serves)`);
    ctx.corral.signal("SIGTTOU");
    const oldest = before[0] as number;
    await until(
      `the oldest worker (${oldest}) to exit`,
      () => !ctx.corral.liveWorkers().includes(oldest),
      WAIT_MS,
    );
    await _settled(ctx, "the pool to settle");
    return { notes: [`worker ${added} added, then ${oldest} retired`] };
  },
};

const maxRequests: Scenario = {
  name: "max-requests",
  summary: "--max-requests recycling under load",
  // Each worker recycles every RECYCLE_S seconds or so: drains overlap little.
  args: (perWorkerRate) => {
    const max = Math.max(100, Math.round(perWorkerRate * RECYCLE_S));
    return ["--max-requests", String(max), "--max-requests-jitter", String(Math.round(max / 4))];
  },
  async run(ctx) {
    const seconds = ctx.quick ? 8 : 30;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    // A recycle in progress drains under load too; later ones do not count.
    await _settled(ctx, "the last recycled worker to drain");
    const recycled = ctx.corral.count(RECYCLING);
    if (recycled === 0) throw new Error("No worker reached --max-requests: raise --rate");
    return { notes: [`${seconds} s, ${recycled} workers recycled`] };
  },
};

const usr2: Scenario = {
  name: "usr2",
  summary: "USR2: a new master beside the old; the old drains and exits",
  args: () => [],
  async run(ctx) {
    const old = ctx.corral.pid;
    const oldWorkers = ctx.corral.liveWorkers();
    ctx.mark("USR2");
    ctx.corral.signal("SIGUSR2");
    await ctx.corral.waitForLog(UPGRADED, 1, WAIT_MS);
    ctx.mark("upgrade serving");
    await until("the old master to exit", () => ctx.corral.exited, WAIT_MS);
    ctx.mark("old master exited");
    await until(
      "the old workers to exit",
      () => ctx.corral.liveWorkers().every((p) => !oldWorkers.includes(p)),
      WAIT_MS,
    );
    const fresh = ctx.corral.liveWorkers();
    for (const pid of fresh) await _serves(ctx, pid);
    return {
      notes: [`master ${old} → ${ctx.corral.master()}, workers ${oldWorkers.join(",")} → ${fresh.join(",")}`],
    };
  },
};

const kill: Scenario = {
  name: "kill",
  summary: "SIGKILL one worker: only the requests in flight in it may fail",
  args: () => [],
  async run(ctx) {
    const [victim] = ctx.corral.liveWorkers();
    if (victim === undefined) throw new Error("No worker to kill");
    await _serves(ctx, victim);
    const before = ctx.corral.workers();
    const atKill = new Map(ctx.loads.map((l) => [l, { at: l.now(), busy: l.inFlightOn(victim) }]));
    ctx.mark(`SIGKILL ${victim}`);
    ctx.corral.signalPid(victim, "SIGKILL");
    // Its sockets close as it dies: a request sent until then was in flight in it.
    const deathAt = new Map(ctx.loads.map((l) => [l, Infinity]));
    const spinUntil = Date.now() + 5000;
    while (alive(victim) && Date.now() < spinUntil) await new Promise((r) => setImmediate(r));
    for (const l of ctx.loads) deathAt.set(l, l.now());
    ctx.mark(`${victim} dead`);
    const replacement = await _newWorker(ctx, before);
    await _serves(ctx, replacement);
    const perLoad = new Map<Load, string[]>();
    const allowed = new Map<Load, { count: number; why: string }>();
    for (const load of ctx.loads) {
      const kill = atKill.get(load) as { at: number; busy: number };
      const died = deathAt.get(load) as number;
      const after = load.failures.filter((f) => f.at >= kill.at);
      // Its connections fail once each; a fresh connection can only have reached it before it died.
      const onIts = after.filter((f) => f.pid === victim).length;
      const fresh = after.filter((f) =>
        f.pid === null && !f.reused && f.sentAt <= died + DEATH_SLACK_MS
      ).length;
      allowed.set(load, { count: onIts + fresh, why: "sent to the killed worker" });
      perLoad.set(load, [
        `${kill.busy} in flight in it at the kill; it died ${(died - kill.at).toFixed(0)} ms later; ` +
        `failed: ${onIts} sent on its connections, ${fresh} on connections opened before it died`,
      ]);
    }
    return { notes: [`worker ${victim} killed, ${replacement} replaced it`], perLoad, allowed };
  },
};

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  steady,
  hup,
  ttinTtou,
  maxRequests,
  usr2,
  kill,
  chaos,
  reloads,
];
