/**
 * How scripts/bench/main.ts measures one server: start it pinned to its
 * core, check that it answers as its app does, warm it up, load it, and
 * read its tree's CPU time and memory from /proc. Each run afresh, or
 * every server started once and loaded in turn (`--interleave`).
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { freePort, type Target, waitUntilServing } from "./_http.ts";
import type { Count, Load, LoadRequest } from "./_load.ts";
import { type Options, ROOT, runtimeCommand, type RuntimeName, type Tools } from "./_options.ts";
import {
  coreTicks,
  type CpuMark,
  cpuSecondsBetween,
  ownTicks,
  privateKiB,
  rssKiB,
  Server,
  treeCpu,
} from "./_proc.ts";
import { fixed, int } from "./_table.ts";
import { type Expected, replyMismatch, type Workload } from "./_workloads.ts";

/** The core the servers run on. */
export const SERVER_CPU = 0;
/** The core the load generator runs on. */
export const LOAD_CPU = 1;
const BOOT_TIMEOUT_MS = 20_000;
/** A run that others disturbed more than --max-other-load is done again, this many times at most. */
export const RETRIES = 2;
/** Longest wait for the other programs on the machine to go quiet before a run. */
export const QUIET_WAIT_MS = 30_000;

/** What serves: the runtime's own server, `deno serve --parallel` (one isolate), or corral. */
export type ServerKind = "bare" | "deno serve" | "corral";

/** One server to measure. */
export interface Spec {
  readonly label: string;
  readonly runtime: RuntimeName;
  readonly kind: ServerKind;
  readonly transport: "tcp" | "unix";
  /** corral's -w; 1 for the others. */
  readonly workers: number;
  readonly workload: Workload;
  /** corral flags of this variant, before --corral-args. */
  readonly args?: readonly string[];
  /** Header fields every request carries besides the workload's (`Name: value`). */
  readonly headers?: readonly string[];
}

/** One measured run. */
export interface Sample extends Count {
  readonly cpuUsPerRequest: number;
  /** The part of it spent in the root process: corral's master (the unix relay runs there). */
  readonly masterUsPerRequest: number;
  /** How busy the server kept its core, in %: near 100, the load generator was not the limit. */
  readonly serverCore: number;
  /**
   * CPU time on the two cores used by neither the server, the load
   * generator nor this script, in % of one core: someone else's load.
   */
  readonly otherLoad: number;
  /** VmRSS right after the run, KiB: the process that serves (corral: its largest worker). */
  readonly serverKiB: number;
  /** corral's master's VmRSS, KiB; NaN for the others. */
  readonly masterKiB: number;
  /** The private memory (see privateKiB) of the process {@link serverKiB} is of, KiB. */
  readonly serverPrivateKiB: number;
  /** corral's master's private memory, KiB; NaN for the others. */
  readonly masterPrivateKiB: number;
}

/** What every run of a table shares. */
export interface Env {
  readonly tools: Tools;
  readonly tmp: string;
  readonly clockTicks: number;
  readonly expected: ReadonlyMap<Workload, Expected>;
}

/** The request a spec's load sends. */
export function requestOf(spec: Spec): LoadRequest {
  return { path: spec.workload.path, headers: [...spec.workload.headers, ...(spec.headers ?? [])] };
}

function _serverArgv(spec: Spec, target: Target, tools: Tools, corralArgs: readonly string[]): string[] {
  const module = spec.workload.module;
  if (spec.kind !== "corral" && "path" in target) throw new TypeError(`${spec.label} listens on TCP only`);
  const port = "port" in target ? String(target.port) : "";
  if (spec.kind === "bare") {
    return [...runtimeCommand(tools, spec.runtime), `examples/bare_${spec.runtime}.ts`, port, module];
  }
  if (spec.kind === "deno serve") {
    const deno = tools.runtimes.deno;
    if (deno === undefined) throw new Error("No deno binary was looked for");
    return [deno, "serve", "--parallel", "--host", "127.0.0.1", "--port", port, module];
  }
  const bind = "path" in target ? `unix:${target.path}` : `127.0.0.1:${port}`;
  return [
    ...runtimeCommand(tools, spec.runtime),
    "cli.ts",
    "-w",
    String(spec.workers),
    "-b",
    bind,
    ...(spec.args ?? []),
    ...corralArgs,
    module,
  ];
}

/** CPU counters at one instant: the server tree, this script with its reaped load generators, both cores. */
function _mark(server: Server) {
  const cores = [SERVER_CPU, LOAD_CPU].map(coreTicks);
  return {
    tree: treeCpu(server.pid),
    own: ownTicks(),
    busy: cores.reduce((sum, c) => sum + c.busy, 0),
    // One core's elapsed ticks, so that "other load" is in % of one core.
    total: cores[0]?.total ?? 0,
  };
}

/** A server started, checked and warmed up, with where it listens. */
export interface Running {
  readonly server: Server;
  readonly target: Target;
}

/** Starts one server, checks its answer and warms it up; stops it if any of that fails. */
export async function start(spec: Spec, load: Load, opts: Options, env: Env, copy = 0): Promise<Running> {
  const target: Target = spec.transport === "unix"
    ? { path: join(env.tmp, `${spec.runtime}-w${spec.workers}${copy > 0 ? `-${copy}` : ""}.sock`) }
    : { port: await freePort() };
  // `deno serve --parallel` runs as many isolates as DENO_JOBS says: one, as corral -w 1 has one worker.
  const server = new Server(
    _serverArgv(spec, target, env.tools, opts.corralArgs),
    SERVER_CPU,
    ROOT,
    spec.kind === "deno serve" ? { DENO_JOBS: "1" } : {},
  );
  try {
    // The master says when every worker is up; a reply alone may come from the first of two.
    if (spec.kind === "corral") await server.waitForLog(/Ready: \d+ workers? serving/, BOOT_TIMEOUT_MS);
    const request = requestOf(spec);
    const reply = await waitUntilServing(
      target,
      BOOT_TIMEOUT_MS,
      () => server.exited,
      request.path,
      request.headers,
    );
    const wrong = replyMismatch(reply, env.expected.get(spec.workload) as Expected);
    if (wrong !== null) {
      throw new Error(`${spec.runtime} ${spec.label} does not answer as ${spec.workload.module}: ${wrong}`);
    }
    if (opts.warmup > 0) await load(target, opts.warmup, request);
    return { server, target };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Starts one server, warms it up, measures one run, stops its whole tree. */
async function _measureOnce(spec: Spec, load: Load, opts: Options, env: Env): Promise<Sample> {
  const running = await start(spec, load, opts, env);
  try {
    return await sample(spec, running, load, opts, env);
  } finally {
    await running.server.stop();
  }
}

/** The memory of a server's tree: the serving process's and, for corral, the master's. */
function _memory(spec: Spec, server: Server, pids: Iterable<number>) {
  const of = (pid: number) => ({ rss: rssKiB(pid), own: privateKiB(pid) });
  if (spec.kind !== "corral") {
    const root = of(server.pid);
    return { serverKiB: root.rss, masterKiB: NaN, serverPrivateKiB: root.own, masterPrivateKiB: NaN };
  }
  const workers = [...pids].filter((pid) => pid !== server.pid).map(of).filter((w) => Number.isFinite(w.rss));
  const largest = workers.reduce((a, b) => (Number.isNaN(a.rss) || b.rss > a.rss ? b : a), {
    rss: NaN,
    own: NaN,
  });
  const master = of(server.pid);
  return {
    serverKiB: largest.rss,
    masterKiB: master.rss,
    serverPrivateKiB: largest.own,
    masterPrivateKiB: master.own,
  };
}

/** Measures one run of a running server. */
export async function sample(
  spec: Spec,
  running: Running,
  load: Load,
  opts: Options,
  env: Env,
): Promise<Sample> {
  const { server, target } = running;
  const before = _mark(server);
  const count = await load(target, opts.duration, requestOf(spec));
  const after = _mark(server);
  const memory = _memory(spec, server, after.tree.keys());
  // A process that left the tree took its CPU time with it, and the figure would be low.
  const lost = [...before.tree.keys()].filter((pid) => !after.tree.has(pid));
  if (lost.length > 0) {
    throw new Error(`${spec.label}: process(es) ${lost.join(", ")} exited during the run`);
  }
  // CPU seconds from the scheduler's nanoseconds (cpuSecondsBetween); the other load in ticks, as /proc/stat has them.
  let seconds = 0;
  for (const [pid, mark] of after.tree) {
    seconds += cpuSecondsBetween(before.tree.get(pid), mark, env.clockTicks);
  }
  const ticks = seconds * env.clockTicks;
  const other = after.busy - before.busy - ticks - (after.own - before.own);
  const elapsed = after.total - before.total;
  const perRequest = (s: number) => count.requests > 0 ? s * 1e6 / count.requests : NaN;
  // The root is in every tree (treePids), and it did not exit (checked above).
  const master = after.tree.get(server.pid) as CpuMark;
  return {
    ...count,
    ...memory,
    cpuUsPerRequest: perRequest(seconds),
    masterUsPerRequest: perRequest(cpuSecondsBetween(before.tree.get(server.pid), master, env.clockTicks)),
    serverCore: elapsed > 0 ? ticks / elapsed * 100 : 0,
    otherLoad: elapsed > 0 ? Math.max(0, other) / elapsed * 100 : 0,
  };
}

/**
 * Waits, up to QUIET_WAIT_MS, for a half-second in which other programs
 * used at most `maxPercent` of a core on the two cores: on a shared
 * machine, starting in a lull saves runs that would be done again.
 */
async function _waitForQuiet(maxPercent: number): Promise<void> {
  const deadline = Date.now() + QUIET_WAIT_MS;
  const busy = () => [SERVER_CPU, LOAD_CPU].map(coreTicks).reduce((sum, c) => sum + c.busy, 0);
  while (Date.now() < deadline) {
    const [b0, t0] = [busy(), coreTicks(SERVER_CPU).total];
    await new Promise((r) => setTimeout(r, 500));
    const elapsed = coreTicks(SERVER_CPU).total - t0;
    if (elapsed > 0 && (busy() - b0) / elapsed * 100 <= maxPercent) return;
  }
}

/** One progress line on stderr for a measured run. */
function _progress(count: string, spec: Spec, s: Sample, suffix: string): void {
  process.stderr.write(
    `[${count}] ${spec.runtime} ${spec.workload.name} ${spec.label}: ${int(s.requests / s.seconds)} req/s, ` +
      `${fixed(s.cpuUsPerRequest)} µs/req, ${fixed(s.serverKiB / 1024)} MiB, ` +
      `other load ${fixed(s.otherLoad, 0)}%${suffix}\n`,
  );
}

/** Samples of every spec, by spec, in round order. */
export type Samples = Map<Spec, Sample[]>;

/** How the tables measure their specs: a fresh server per run, or `--interleave`. */
export function measureEach(opts: Options): (specs: Spec[], load: Load, env: Env) => Promise<Samples> {
  return (specs, load, env) =>
    opts.interleave ? _interleaved(specs, load, opts, env) : _fresh(specs, load, opts, env);
}

/**
 * Measures every spec `rounds` times, alternating the order so drift hits
 * all alike. On a shared machine a run that other programs disturbed is
 * done again, RETRIES times at most, and the least disturbed attempt is kept.
 */
async function _fresh(specs: Spec[], load: Load, opts: Options, env: Env): Promise<Samples> {
  const samples: Samples = new Map(specs.map((s) => [s, []]));
  let n = 0;
  for (let round = 0; round < opts.rounds; round++) {
    for (const spec of round % 2 ? [...specs].reverse() : specs) {
      n++;
      let kept: Sample | undefined;
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        await _waitForQuiet(opts.maxOtherLoad);
        const s = await _measureOnce(spec, load, opts, env);
        if (!kept || s.otherLoad < kept.otherLoad) kept = s;
        const again = s.otherLoad > opts.maxOtherLoad && attempt < RETRIES;
        _progress(`${n}/${specs.length * opts.rounds}`, spec, s, again ? ", again" : "");
        if (!again) break;
      }
      // The least disturbed attempt stands for this round.
      if (kept) samples.get(spec)?.push(kept);
    }
  }
  return samples;
}

/**
 * `--interleave`: starts every spec's server once (`--copies` times), then
 * loads them in turn, round after round, in an order that rotates; with
 * copies, round r loads copy r mod N of each. Each round's runs lie within
 * seconds of each other, so the paired ratios hold on a machine whose
 * speed drifts from minute to minute; the copies spread what sets one
 * process apart from another of the same code over the rounds. The idle
 * servers wait on the same core: their timers count as other load.
 */
async function _interleaved(specs: Spec[], load: Load, opts: Options, env: Env): Promise<Samples> {
  const samples: Samples = new Map(specs.map((s) => [s, []]));
  const running = new Map<Spec, Running[]>(specs.map((s) => [s, []]));
  try {
    for (let copy = 0; copy < opts.copies; copy++) {
      for (const spec of specs) running.get(spec)?.push(await start(spec, load, opts, env, copy));
    }
    let n = 0;
    for (let round = 0; round < opts.rounds; round++) {
      const shift = round % specs.length;
      for (const spec of [...specs.slice(shift), ...specs.slice(0, shift)]) {
        n++;
        const copies = running.get(spec) as Running[];
        const s = await sample(spec, copies[round % copies.length] as Running, load, opts, env);
        samples.get(spec)?.push(s);
        _progress(`${n}/${specs.length * opts.rounds}`, spec, s, "");
      }
    }
  } finally {
    await Promise.all([...running.values()].flat().map((r) => r.server.stop()));
  }
  return samples;
}
