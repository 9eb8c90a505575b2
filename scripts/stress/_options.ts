/**
 * scripts/stress/main.ts's flags, and where the runtimes it starts corral with are.
 * @module
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { RuntimeName } from "./_corral.ts";
import { type Scenario, SCENARIOS } from "./_scenarios.ts";

/** This repository: its node_modules/.bin and its scripts/stress/_app.ts. */
export const HERE: string = fileURLToPath(new URL("../..", import.meta.url).href);

/** `--help` text. */
export const USAGE = `Usage: scripts/stress/main.ts [OPTIONS]
      --runtime deno|bun|both  the runtime corral runs on (default both)
      --scenario NAME[,NAME]   ${SCENARIOS.map((s) => s.name).join(", ")}
                               (default: all but the long ones: ${
  SCENARIOS.filter((s) => s.long).map((s) => s.name)
})
      --migrate-req 0|1|both   net.ipv4.tcp_migrate_req settings to run under (default both;
                               needs root, else the current one only)
      --quick                  3 HUPs instead of 10, 8 s of --max-requests instead of 30,
                               half the steady load around each event
  -w, --workers N              corral workers (default 2)
  -c, --clients N              clients per load, keep-alive and new-connection (default 16)
      --rate N                 requests/s per load, over all its clients; 0: unpaced (default 1000)
      --delay MS               the app's time per request (default 2)
      --root DIR               the corral checkout to run (default this one); the app is
                               always this repository's scripts/stress/_app.ts
      --seed N                 chaos: the random sequence to replay (default: a new one, printed)
      --seconds N              chaos: how long the events go on (default 20; --quick: 8)
  -v, --verbose                print each scenario's events and failures in time order
      --reloads N              reloads: how many HUPs (default 1000; --quick: 100)
      --corral-log PREFIX      write each run's corral log to PREFIX-SCENARIO-RUNTIME.log
      --corral-args "ARGS"     more corral flags, e.g. "--log-level debug --log-format json"
  -h, --help

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)} ${s.summary}`).join("\n")}

Exit status: 0 when no scenario lost more than it may, 1 otherwise, 2 on bad usage.`;

/** The parsed flags. */
export interface Options {
  readonly runtimes: readonly RuntimeName[];
  readonly scenarios: readonly Scenario[];
  readonly migrateReq: readonly (0 | 1)[];
  readonly quick: boolean;
  readonly workers: number;
  readonly clients: number;
  /** Requests per second per load; 0: as fast as the clients go. */
  readonly rate: number;
  readonly delayMs: number;
  readonly root: string;
  readonly verbose: boolean;
  /** chaos: the seed of its random events. */
  readonly seed: number;
  /** chaos: seconds of events. */
  readonly seconds: number;
  /** reloads: how many HUPs. */
  readonly reloads: number;
  /** Where to write each run's corral log, or null. */
  readonly corralLog: string | null;
  /** More corral flags. */
  readonly corralArgs: readonly string[];
}

/** A flag with a bad value; parseArgs throws TypeError for unknown flags. */
export class UsageError extends Error {}

function _count(raw: string | undefined, fallback: number, flag: string, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`Invalid value for ${flag}: "${raw}": expected an integer >= ${min}`);
  }
  return n;
}

function _scenarios(raw: string | undefined): Scenario[] {
  const names = raw?.split(",").map((s) => s.trim()) ?? SCENARIOS.filter((s) => !s.long).map((s) => s.name);
  return names.map((name) => {
    const found = SCENARIOS.find((s) => s.name === name);
    if (found) return found;
    throw new UsageError(
      `Invalid value for --scenario: "${name}": expected one of ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
  });
}

/**
 * Parses the command line; "help" when --help was given.
 * @throws {UsageError|TypeError} on a bad value or an unknown flag.
 */
export function parseOptions(args: string[]): Options | "help" {
  const { values: v } = parseArgs({
    args,
    options: {
      runtime: { type: "string", default: "both" },
      scenario: { type: "string" },
      "migrate-req": { type: "string", default: "both" },
      quick: { type: "boolean", default: false },
      workers: { type: "string", short: "w" },
      clients: { type: "string", short: "c" },
      rate: { type: "string" },
      delay: { type: "string" },
      root: { type: "string" },
      verbose: { type: "boolean", short: "v", default: false },
      seed: { type: "string" },
      seconds: { type: "string" },
      "corral-log": { type: "string" },
      "corral-args": { type: "string" },
      reloads: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return "help";
  const runtimes = ({ deno: ["deno"], bun: ["bun"], both: ["deno", "bun"] } as const)[
    v.runtime as "deno" | "bun" | "both"
  ];
  if (!runtimes) {
    throw new UsageError(`Invalid value for --runtime: "${v.runtime}": expected deno, bun or both`);
  }
  const migrateReq = ({ "0": [0], "1": [1], both: [0, 1] } as const)[v["migrate-req"] as "0" | "1" | "both"];
  if (!migrateReq) {
    throw new UsageError(`Invalid value for --migrate-req: "${v["migrate-req"]}": expected 0, 1 or both`);
  }
  return {
    runtimes,
    scenarios: _scenarios(v.scenario),
    migrateReq,
    quick: v.quick === true,
    workers: _count(v.workers, 2, "--workers", 1),
    clients: _count(v.clients, 16, "--clients", 1),
    rate: _count(v.rate, 1000, "--rate", 0),
    delayMs: _count(v.delay, 2, "--delay", 0),
    root: resolve(v.root ?? HERE),
    verbose: v.verbose === true,
    seed: _count(v.seed, Math.floor(Math.random() * 2 ** 31), "--seed", 0),
    seconds: _count(v.seconds, v.quick ? 8 : 20, "--seconds", 1),
    corralLog: v["corral-log"] ?? null,
    corralArgs: (v["corral-args"] ?? "").split(/\s+/).filter(Boolean),
    reloads: _count(v.reloads, v.quick ? 100 : 1000, "--reloads", 1),
  };
}

/**
 * `deno run -A cli.ts` or `bun cli.ts`, the runtime from node_modules/.bin or $PATH.
 * @throws {UsageError} when it is in neither.
 */
export function runtimeCommand(runtime: RuntimeName): string[] {
  const dirs = [join(HERE, "node_modules", ".bin"), ...(process.env.PATH ?? "").split(delimiter)];
  for (const dir of dirs.filter(Boolean)) {
    const program = join(dir, runtime);
    try {
      accessSync(program, constants.X_OK);
    } catch {
      continue;
    }
    return runtime === "deno" ? [program, "run", "-A", "cli.ts"] : [program, "cli.ts"];
  }
  throw new UsageError(`Cannot find "${runtime}" in node_modules/.bin or on $PATH (run npm install)`);
}
