/**
 * One measured run of `scripts/bench/main.ts --peers`: start a peer on its
 * cores, check it answers the workload right, warm it up, drive it with
 * wrk, and read its whole process tree's CPU time and memory; then stop it,
 * whatever happened.
 * @module
 */
import { freePort } from "./_http.ts";
import type { Peer, PeerTools } from "./_peers_catalog.ts";
import { firstResponse, layout, start, treeRss } from "./_peers_start.ts";
import { checkReply, type Scenario, wrk, type WrkResult } from "./_peers_wrk.ts";
import { coreTicks, ownTicks, type Server, treeTicks } from "./_proc.ts";

/** How long a server may take to answer its first request. */
export const BOOT_TIMEOUT_MS = 20_000;

/** One peer with one worker count: a row of the tables. */
export interface Config {
  readonly peer: Peer;
  readonly workers: number;
  /** Key rows are measured every round, the others once. */
  readonly key: boolean;
}

/** What every run shares. */
export interface RunEnv {
  readonly tools: PeerTools;
  readonly wrk: string;
  readonly taskset: string;
  readonly cores: number;
  readonly clockTicks: number;
  readonly connections: number;
  readonly warmup: number;
  readonly duration: number;
  readonly tmp: string;
  /** Extra flags for every corral server. */
  readonly corralArgs: readonly string[];
}

/** One measured run. */
export interface Sample extends WrkResult {
  /** Server CPU time (all its processes) per request, in µs. */
  readonly cpuUs: number;
  readonly firstResponseMs: number;
  readonly rssMasterKiB: number;
  readonly rssWorkersKiB: readonly number[];
  /** Private memory of every process of the server, summed (see treeRss). */
  readonly privateKiB: number;
  /** CPU time on the benchmark's cores used by other programs, in % of one core. */
  readonly otherLoad: number;
}

/** CPU counters at one instant: the server tree, this script with its reaped wrk, the cores. */
function _mark(server: Server, cores: readonly number[]) {
  const ticks = cores.map(coreTicks);
  return {
    tree: treeTicks(server.pid),
    own: ownTicks(),
    busy: ticks.reduce((sum, c) => sum + c.busy, 0),
    // One core's elapsed ticks, so that "other load" is in % of one core.
    total: ticks[0]?.total ?? 0,
  };
}

/** Starts `config`'s server, measures one run of `scenario`, stops its whole tree. */
export async function measure(
  config: Config,
  scenario: Scenario,
  script: string | null,
  env: RunEnv,
): Promise<Sample> {
  const port = await freePort();
  const cores = layout(config.workers, env.cores);
  const launch = config.peer.launch(env.tools, port, config.workers, env.tmp, env.corralArgs);
  const started = start(launch, cores.server);
  const { server } = started;
  const label = `${config.peer.label} ×${config.workers}`;
  try {
    const firstResponseMs = await firstResponse(started, port, BOOT_TIMEOUT_MS);
    // A first reply may come from the first of two workers; corral says when all are up.
    if (config.peer.ready) await server.waitForLog(config.peer.ready, BOOT_TIMEOUT_MS);
    await checkReply(port, scenario, label);
    const how = { wrk: env.wrk, taskset: env.taskset, cores: cores.load, connections: env.connections };
    // The warm-up also covers the peers that do not say when their last worker is up.
    if (env.warmup > 0) await wrk(how, port, scenario, script, env.warmup);
    const all = [...new Set([...cores.server, ...cores.load])];
    const before = _mark(server, all);
    const count = await wrk(how, port, scenario, script, env.duration);
    const after = _mark(server, all);
    const rss = treeRss(server.pid);
    // A process that left the tree took its CPU time with it, and the figure would be low.
    const lost = [...before.tree.keys()].filter((pid) => !after.tree.has(pid));
    if (lost.length > 0) throw new Error(`${label}: process(es) ${lost.join(", ")} exited during the run`);
    let ticks = 0;
    for (const [pid, t] of after.tree) ticks += t - (before.tree.get(pid) ?? 0);
    const other = after.busy - before.busy - ticks - (after.own - before.own);
    const elapsed = after.total - before.total;
    return {
      ...count,
      cpuUs: count.requests > 0 ? ticks / env.clockTicks * 1e6 / count.requests : NaN,
      firstResponseMs,
      rssMasterKiB: rss.master,
      rssWorkersKiB: rss.workers,
      privateKiB: rss.privateTotal,
      otherLoad: elapsed > 0 ? Math.max(0, other) / elapsed * 100 : 0,
    };
  } finally {
    await server.stop();
  }
}
