/**
 * The flags of `scripts/bench/main.ts --peers`.
 * @module
 */
import { parseArgs } from "node:util";
import { listFlag, numberFlag, RUN_FLAGS } from "./_cli.ts";
import { PEERS } from "./_peers_catalog.ts";
import { SCENARIO_NAMES, type ScenarioName } from "./_peers_wrk.ts";

/** `--peers --help` text. */
export const PEERS_USAGE = `Usage: scripts/bench/main.ts --peers [OPTIONS]
  -d, --duration SECONDS     measured run per server (default 10; --quick: 3)
  -w, --warmup SECONDS       warm-up run before it, not counted (default 2; --quick: 1)
  -c, --connections N        concurrent keep-alive connections (default 50)
  -r, --rounds N             runs of the key rows (corral and the bare servers, 1 worker),
                             interleaved; the others run once (default 3; --quick: 1)
      --workers LIST         worker counts (default 1,2)
      --tables LIST          ${[...SCENARIO_NAMES, "boot"].join(",")} (default all): the workloads, and
                             corral's worker boot
      --only LIST            peer ids: ${PEERS.map((p) => p.id).join(",")}
      --corral-args=ARGS     extra corral flags, split on spaces: --corral-args="--timeout 0"
      --boot-starts N        corral starts per configuration for the boot table (default 5; --quick: 2)
      --max-other-load PCT   measure a run (or a boot) again, once, when other programs used
                             more than this much of a core meanwhile, and keep the less
                             disturbed of the two (default 10)
      --quick                short runs, one round`;

/** The parsed flags. */
export interface PeerOptions {
  readonly duration: number;
  readonly warmup: number;
  readonly connections: number;
  readonly rounds: number;
  readonly workers: readonly number[];
  readonly scenarios: readonly ScenarioName[];
  /** The boot table. */
  readonly boot: boolean;
  readonly only: readonly string[] | null;
  readonly bootStarts: number;
  readonly maxOtherLoad: number;
  /** Extra flags for every corral server: to see what a setting costs. */
  readonly corralArgs: readonly string[];
}

/** An optional list flag: null when absent. */
function _list(raw: string | undefined, allowed: readonly string[], flag: string): string[] | null {
  return raw === undefined ? null : listFlag(raw, allowed, flag);
}

/**
 * Parses the flags after `--peers`; "help" when --help was given.
 * @throws {UsageError|TypeError} on a bad value or an unknown flag.
 */
export function parsePeerOptions(args: string[]): PeerOptions | "help" {
  const { values: v } = parseArgs({
    args,
    options: {
      ...RUN_FLAGS,
      workers: { type: "string" },
      tables: { type: "string" },
      only: { type: "string" },
      "boot-starts": { type: "string" },
      "corral-args": { type: "string", default: "" },
      "max-other-load": { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return "help";
  const tables = _list(v.tables, [...SCENARIO_NAMES, "boot"], "--tables") ?? [...SCENARIO_NAMES, "boot"];
  const workers = (v.workers ?? "1,2").split(",").map((s) => numberFlag(s, 1, "--workers", 1));
  return {
    duration: numberFlag(v.duration, v.quick ? 3 : 10, "--duration", 1),
    warmup: numberFlag(v.warmup, v.quick ? 1 : 2, "--warmup", 0),
    connections: Math.round(numberFlag(v.connections, 50, "--connections", 1)),
    rounds: Math.round(numberFlag(v.rounds, v.quick ? 1 : 3, "--rounds", 1)),
    workers: workers.map(Math.round),
    scenarios: tables.filter((t): t is ScenarioName => t !== "boot"),
    boot: tables.includes("boot"),
    only: _list(v.only, PEERS.map((p) => p.id), "--only"),
    bootStarts: Math.round(numberFlag(v["boot-starts"], v.quick ? 2 : 5, "--boot-starts", 0)),
    maxOtherLoad: numberFlag(v["max-other-load"], 10, "--max-other-load", 0),
    corralArgs: v["corral-args"].split(" ").filter(Boolean),
  };
}
