/**
 * scripts/bench/main.ts's flags and the tools it needs (wrk, taskset, getconf,
 * deno, bun), found on $PATH or in node_modules/.bin.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { listFlag, numberFlag, RUN_FLAGS, UsageError } from "./_cli.ts";
import { which } from "./_proc.ts";
import type { WorkloadName } from "./_workloads.ts";

/** The repository root: servers start from here. */
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url).href);

/** A runtime corral runs on. */
export type RuntimeName = "deno" | "bun";
/** One of the two tables. */
export type TableName = "tcp" | "unix";

/** A row of the TCP table, as `--variants` names it. */
export type VariantName =
  | "bare"
  | "again"
  | "serve"
  | "defaults"
  | "gunicorn"
  | "log"
  | "front-off"
  | "none"
  | "proxy";

/** Every variant, in the table's order. */
export const VARIANTS: readonly VariantName[] = [
  "bare",
  "again",
  "serve",
  "defaults",
  "gunicorn",
  "log",
  "front-off",
  "none",
  "proxy",
];

/** `--help` text. */
export const USAGE = `Usage: scripts/bench/main.ts [OPTIONS]
  -d, --duration SECONDS     measured run per server (default 10; --quick: 3)
  -w, --warmup SECONDS       warm-up run before it, not counted (default 3; --quick: 1)
  -c, --connections N        concurrent keep-alive connections (default 50)
  -r, --rounds N             runs per server, interleaved; tables show medians (default 3; --quick: 1)
      --runtimes LIST        deno,bun (default both)
      --tables LIST          tcp,unix (default both)
      --workloads LIST       the TCP table's apps: hello,hono (default both)
      --variants LIST        the TCP table's rows: bare,again,serve,defaults,gunicorn,log,front-off,none,proxy
                             (default all; again is the bare server a second time, the A/A control
                             that shows the run's noise; serve is deno serve --parallel, Deno only;
                             gunicorn is the defaults with Gunicorn's field limits, 100 fields of
                             8190 bytes at most)
      --client RUNTIME       runtime of the unix-table load client (default bun, else deno)
      --corral-args=ARGS     extra corral flags, split on spaces: --corral-args="--timeout 0"
      --max-other-load PCT   measure a run again when other programs used more than this
                             much of a core meanwhile (default 10)
      --interleave           start every server of a table once and load them in turn,
                             round after round (try -d 1 -r 20): on a machine whose speed
                             drifts, each round's servers are compared within seconds
      --copies N             with --interleave, start N servers of each row and load
                             them in turn, one a round (default 1): two processes of the
                             same code differ by up to 2.5 %, which one server a row
                             puts into every ratio
      --quick                short runs, one round`;

/** The parsed flags. */
export interface Options {
  readonly duration: number;
  readonly warmup: number;
  readonly connections: number;
  readonly rounds: number;
  readonly runtimes: readonly RuntimeName[];
  readonly tables: readonly TableName[];
  readonly workloads: readonly WorkloadName[];
  readonly variants: readonly VariantName[];
  readonly client: RuntimeName | undefined;
  /** Extra flags for every corral server: to see what a setting costs. */
  readonly corralArgs: readonly string[];
  /** % of one core that other programs may use during a run before it is done again. */
  readonly maxOtherLoad: number;
  /** Start each server once and load them in turn, instead of a fresh server per run. */
  readonly interleave: boolean;
  /** With {@link interleave}: servers started per spec, loaded one a round in turn. */
  readonly copies: number;
}

/**
 * Parses the command line; "help" when --help was given.
 * @throws {UsageError|TypeError} on a bad value or an unknown flag.
 */
export function parseOptions(args: string[]): Options | "help" {
  const { values: v } = parseArgs({
    args,
    options: {
      ...RUN_FLAGS,
      runtimes: { type: "string", default: "deno,bun" },
      tables: { type: "string", default: "tcp,unix" },
      workloads: { type: "string", default: "hello,hono" },
      variants: { type: "string", default: VARIANTS.join(",") },
      client: { type: "string" },
      "corral-args": { type: "string", default: "" },
      "max-other-load": { type: "string" },
      quick: { type: "boolean", default: false },
      interleave: { type: "boolean", default: false },
      copies: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) return "help";
  const runtimes = ["deno", "bun"] as const;
  return {
    duration: numberFlag(v.duration, v.quick ? 3 : 10, "--duration", 1),
    warmup: numberFlag(v.warmup, v.quick ? 1 : 3, "--warmup", 0),
    connections: Math.round(numberFlag(v.connections, 50, "--connections", 1)),
    rounds: Math.round(numberFlag(v.rounds, v.quick ? 1 : 3, "--rounds", 1)),
    runtimes: listFlag(v.runtimes, runtimes, "--runtimes"),
    tables: listFlag(v.tables, ["tcp", "unix"] as const, "--tables"),
    workloads: listFlag(v.workloads, ["hello", "hono"] as const, "--workloads"),
    variants: listFlag(v.variants, VARIANTS, "--variants"),
    client: v.client === undefined ? undefined : listFlag(v.client, runtimes, "--client")[0],
    corralArgs: v["corral-args"].split(" ").filter(Boolean),
    maxOtherLoad: numberFlag(v["max-other-load"], 10, "--max-other-load", 0),
    interleave: v.interleave,
    copies: _copies(v.copies, v.interleave),
  };
}

function _copies(value: string | undefined, interleave: boolean): number {
  const copies = Math.round(numberFlag(value, 1, "--copies", 1));
  if (copies > 1 && !interleave) {
    throw new UsageError("--copies needs --interleave (without it every run starts its own server)");
  }
  return copies;
}

/** Where each tool is. */
export interface Tools {
  readonly taskset: string;
  readonly getconf: string;
  /** Only looked for when the TCP table is wanted. */
  readonly wrk: string;
  readonly runtimes: Readonly<Partial<Record<RuntimeName, string>>>;
  /** Runtime of the unix table's load client. */
  readonly client: RuntimeName;
}

/** The tools `opts` needs, or the one line that says which is missing. */
export function findTools(opts: Options): Tools | { missing: string } {
  const dirs = [join(ROOT, "node_modules", ".bin")];
  // Bun's node:net drove the most requests per core in trials, so it is the default client.
  const client: RuntimeName = opts.client ?? (which("bun", dirs) ? "bun" : "deno");
  const wanted = new Set<RuntimeName>(opts.runtimes);
  if (opts.tables.includes("unix")) wanted.add(client);
  const need: [string, string][] = [["taskset", "install util-linux"], ["getconf", "install libc-bin"]];
  if (opts.tables.includes("tcp")) need.push(["wrk", "apt-get install -y wrk"]);
  for (const rt of wanted) need.push([rt, `run npm install in ${ROOT}`]);
  const paths: Record<string, string> = {};
  for (const [name, hint] of need) {
    const path = which(name, dirs);
    if (path === null) return { missing: `bench: "${name}" not found on $PATH or in ${dirs[0]}; ${hint}` };
    paths[name] = path;
  }
  return {
    taskset: paths.taskset!,
    getconf: paths.getconf!,
    wrk: paths.wrk ?? "",
    runtimes: Object.fromEntries([...wanted].map((rt) => [rt, paths[rt]!])),
    client,
  };
}

/** The command that runs a script on `rt`; Deno with every permission, as corral's docs start it. */
export function runtimeCommand(tools: Tools, rt: RuntimeName): string[] {
  const path = tools.runtimes[rt];
  if (path === undefined) throw new Error(`No ${rt} binary was looked for`);
  return rt === "deno" ? [path, "run", "-A"] : [path];
}
