/**
 * The reloads scenario of scripts/stress/main.ts: HUP after HUP, each once
 * the previous generation serves, under both loads, reading the master's
 * open descriptors and resident memory before and after: a handle kept
 * per exited worker shows as a climb (docs/RELIABILITY.md).
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { alive, until } from "./_corral.ts";
import type { Scenario } from "./_scenarios.ts";

const WAIT_MS = 60_000;
const RELOADED = /Reloaded: \d+ new workers? serving/g;

/** The master's open descriptors and resident memory (kB). */
function _usage(pid: number): { fds: number; rssKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return {
    fds: readdirSync(`/proc/${pid}/fd`).length,
    rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
  };
}

/** The reloads scenario. */
export const reloads: Scenario = {
  name: "reloads",
  summary: "HUP after HUP (--reloads N, default 1000), the master's fds and RSS before and after",
  args: () => [],
  long: true,
  async run(ctx) {
    const master = ctx.corral.pid;
    const before = _usage(master);
    const started = Date.now();
    for (let i = 1; i <= ctx.reloads; i++) {
      ctx.corral.signal("SIGHUP");
      await ctx.corral.waitForLog(RELOADED, i, WAIT_MS);
      if (i % 100 === 0) ctx.mark(`${i} reloads: ${JSON.stringify(_usage(master))}`);
    }
    await until(
      "the old generations to drain",
      () => ctx.corral.liveWorkers().length === ctx.workers,
      WAIT_MS,
    );
    // Sockets of workers just gone may still be closing: let the master's loop run.
    await new Promise((r) => setTimeout(r, 1000));
    const after = _usage(master);
    if (!alive(master)) throw new Error("The master died");
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    return {
      notes: [
        `${ctx.reloads} HUPs in ${minutes} min; master fds ${before.fds} → ${after.fds}, ` +
        `RSS ${(before.rssKb / 1024).toFixed(1)} → ${(after.rssKb / 1024).toFixed(1)} MB`,
      ],
    };
  },
};
