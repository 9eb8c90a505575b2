/**
 * corral's worker boot, for `scripts/bench/main.ts --peers`: from the master
 * spawning a worker to that worker listening, seen in the master's log
 * (`--log-level debug`: "Booting worker with pid: N" → "Worker (pid:N) is
 * ready"), and the time from starting the command to its first response.
 * The log's own timestamps have whole seconds, so each line is timed as it
 * arrives on the master's stderr.
 * @module
 */
import { freePort } from "./_http.ts";
import type { Peer } from "./_peers_catalog.ts";
import { BOOT_TIMEOUT_MS, type RunEnv } from "./_peers_measure.ts";
import { firstResponse, layout, start } from "./_peers_start.ts";
import { coreTicks, ownTicks, treeTicks } from "./_proc.ts";

/** What the starts of one corral configuration took. */
export interface BootTimes {
  readonly firstResponseMs: number[];
  /** One entry per worker booted: spawn to ready. */
  readonly workerBootMs: number[];
  /**
   * One entry per worker: its CPU time (all threads) when it was ready, in
   * ms. Others' load stretches the wall time of a boot, hardly its CPU time:
   * on a busy machine this says what the boot would take on an idle core.
   */
  readonly workerCpuMs: number[];
  /** Per start: others' CPU time meanwhile, in % of one core. */
  readonly otherLoad: number[];
}

/**
 * Times the master's boot lines as they arrive. Server.waitForLog tests its
 * pattern against the whole stderr on every chunk that comes in, so a
 * pattern whose test() notes the time of each line it sees first is a clock
 * on that stream; it matches once every worker is ready.
 */
class _BootClock extends RegExp {
  readonly booting = new Map<string, number>();
  readonly ready = new Map<string, number>();
  readonly #workers: number;

  constructor(workers: number) {
    super("(?!)");
    this.#workers = workers;
  }

  override test(text: string): boolean {
    const now = performance.now();
    for (const [, pid] of text.matchAll(/Booting worker with pid: (\d+)/g)) {
      if (pid && !this.booting.has(pid)) this.booting.set(pid, now);
    }
    for (const [, pid] of text.matchAll(/Worker \(pid:(\d+)\) is ready/g)) {
      if (pid && !this.ready.has(pid)) this.ready.set(pid, now);
    }
    return this.ready.size >= this.#workers;
  }

  /** Spawn → ready of each worker seen doing both. */
  times(): number[] {
    return [...this.ready].flatMap(([pid, at]) => {
      const from = this.booting.get(pid);
      return from === undefined ? [] : [at - from];
    });
  }
}

interface _Start {
  readonly firstResponseMs: number;
  readonly workerBootMs: number[];
  readonly workerCpuMs: number[];
  /** CPU time others used on the machine meanwhile, in % of one core (coarse: 10 ms ticks). */
  readonly otherLoad: number;
}

/** One start of `peer`, timed, then stopped. */
async function _start(peer: Peer, workers: number, env: RunEnv): Promise<_Start> {
  const port = await freePort();
  const launch = peer.launch(env.tools, port, workers, env.tmp, [...env.corralArgs, "--log-level", "debug"]);
  const cores = Array.from({ length: env.cores }, (_, i) => i);
  const busy = () => cores.map(coreTicks).reduce((sum, c) => sum + c.busy, 0);
  const [busy0, total0, own0] = [busy(), coreTicks(0).total, ownTicks()];
  const started = start(launch, layout(workers, env.cores).server);
  const clock = new _BootClock(workers);
  try {
    const ready = started.server.waitForLog(clock, BOOT_TIMEOUT_MS);
    const firstResponseMs = await firstResponse(started, port, BOOT_TIMEOUT_MS);
    await ready;
    // Everything the new tree used since it started.
    const ticks = treeTicks(started.server.pid);
    const tree = [...ticks.values()].reduce((sum, t) => sum + t, 0);
    const workerCpuMs = [...clock.ready.keys()].map((pid) =>
      (ticks.get(Number(pid)) ?? NaN) / env.clockTicks * 1000
    );
    const other = busy() - busy0 - tree - (ownTicks() - own0);
    const elapsed = coreTicks(0).total - total0;
    const workerBootMs = clock.times();
    if (workerBootMs.length !== workers) {
      throw new Error(`${peer.label}: ${workerBootMs.length} of ${workers} worker boots found in the log`);
    }
    return {
      firstResponseMs,
      workerBootMs,
      workerCpuMs,
      otherLoad: elapsed > 0 ? Math.max(0, other) / elapsed * 100 : 0,
    };
  } finally {
    await started.server.stop();
  }
}

/**
 * Starts `peer` (a corral) `starts` times with `workers` workers and times
 * each boot; a start that others disturbed by more than `maxOtherLoad` is
 * done again, once, and the less disturbed of the two is kept.
 */
export async function measureBoot(
  peer: Peer,
  workers: number,
  starts: number,
  env: RunEnv,
  maxOtherLoad: number,
): Promise<BootTimes> {
  const result: BootTimes = { firstResponseMs: [], workerBootMs: [], workerCpuMs: [], otherLoad: [] };
  for (let i = 0; i < starts; i++) {
    let one = await _start(peer, workers, env);
    if (one.otherLoad > maxOtherLoad) {
      const again = await _start(peer, workers, env);
      if (again.otherLoad < one.otherLoad) one = again;
    }
    result.firstResponseMs.push(one.firstResponseMs);
    result.workerBootMs.push(...one.workerBootMs);
    result.workerCpuMs.push(...one.workerCpuMs);
    result.otherLoad.push(one.otherLoad);
  }
  return result;
}
