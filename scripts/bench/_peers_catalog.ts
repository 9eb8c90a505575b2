/**
 * The servers `scripts/bench/main.ts --peers` sets side by side, one table entry
 * each: how to start one with N workers on a port, what it needs, and how
 * to tell it is up. The apps are in scripts/bench/peers/.
 * @module
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ROOT } from "./_options.ts";
import { which } from "./_proc.ts";

/** PM2 is run from its own folder, outside the project (see docs/BENCHMARKS.md). */
export const PM2_VERSION = "7.0.4";
/** Threads per Gunicorn gthread worker: Gunicorn's docs suggest 2–4 per core. */
export const GTHREAD_THREADS = 4;

/** A program a peer needs. */
export type ToolName = "deno" | "bun" | "node" | "pm2-runtime" | "gunicorn";

/** Where each program is; a missing one is absent, with the hint to install it. */
export interface PeerTools {
  readonly found: Readonly<Partial<Record<ToolName, string>>>;
  readonly missing: Readonly<Partial<Record<ToolName, string>>>;
}

/** How one server is started. */
export interface Launch {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** One server of the comparison. */
export interface Peer {
  /** For `--only`. */
  readonly id: string;
  readonly label: string;
  readonly tool: ToolName;
  /** Worker counts it runs with; the bare single-process servers run with 1 only. */
  readonly counts: readonly number[];
  /** `corral` rows are the reference of the ratios. */
  readonly corral: "deno" | "bun" | null;
  /** A log line that says every worker is up, where the server writes one. */
  readonly ready?: RegExp;
  /** `corralArgs` go to corral only; the app module is always the last argument. */
  launch(
    tools: PeerTools,
    port: number,
    workers: number,
    tmp: string,
    corralArgs?: readonly string[],
  ): Launch;
}

const _APP = "scripts/bench/peers/app.ts";
const _CORRAL_READY = /Ready: \d+ workers? serving/;

function _tool(tools: PeerTools, name: ToolName): string {
  const path = tools.found[name];
  if (path === undefined) throw new Error(`No ${name} was found`);
  return path;
}

function _corral(runtime: "deno" | "bun", label: string): Peer {
  return {
    id: `corral-${runtime}`,
    label,
    tool: runtime,
    counts: [1, 2],
    corral: runtime,
    ready: _CORRAL_READY,
    launch: (tools, port, workers, _tmp, corralArgs = []) => ({
      argv: [
        ...(runtime === "deno" ? [_tool(tools, "deno"), "run", "-A"] : [_tool(tools, "bun")]),
        "cli.ts",
        "-w",
        String(workers),
        "-b",
        `127.0.0.1:${port}`,
        ...corralArgs,
        _APP,
      ],
      env: {},
    }),
  };
}

function _gunicorn(kind: "sync" | "gthread"): Peer {
  return {
    id: `gunicorn-${kind}`,
    label: kind === "sync" ? "Gunicorn sync" : `Gunicorn gthread ×${GTHREAD_THREADS}`,
    tool: "gunicorn",
    counts: [1, 2],
    corral: null,
    launch: (tools, port, workers) => ({
      argv: [
        _tool(tools, "gunicorn"),
        "-w",
        String(workers),
        "-k",
        kind,
        ...(kind === "gthread" ? ["--threads", String(GTHREAD_THREADS)] : []),
        "-b",
        `127.0.0.1:${port}`,
        "--chdir",
        join(ROOT, "scripts", "bench", "peers"),
        "wsgi_app:app",
      ],
      env: {},
    }),
  };
}

/** Every server, in table order. */
export const PEERS: readonly Peer[] = [
  _corral("deno", "corral on Deno"),
  {
    id: "deno-bare",
    label: "bare Deno.serve",
    tool: "deno",
    counts: [1],
    corral: null,
    launch: (tools, port) => ({
      argv: [_tool(tools, "deno"), "run", "-A", "scripts/bench/peers/deno_serve.ts", String(port)],
      env: {},
    }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel",
    tool: "deno",
    counts: [1, 2],
    corral: null,
    launch: (tools, port, workers) => ({
      argv: [
        _tool(tools, "deno"),
        "serve",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        _APP,
      ],
      env: { DENO_JOBS: String(workers) },
    }),
  },
  _corral("bun", "corral on Bun"),
  {
    id: "bun-bare",
    label: "bare Bun.serve, reusePort",
    tool: "bun",
    counts: [1, 2],
    corral: null,
    launch: (tools, port, workers) => ({
      argv: [_tool(tools, "bun"), "scripts/bench/peers/bun_serve.ts", String(port), String(workers)],
      env: {},
    }),
  },
  {
    id: "node-cluster",
    label: "Node cluster, node:http",
    tool: "node",
    counts: [1, 2],
    corral: null,
    launch: (tools, port, workers) => ({
      argv: [_tool(tools, "node"), "scripts/bench/peers/node_cluster.mjs", String(port), String(workers)],
      env: {},
    }),
  },
  {
    id: "pm2",
    label: "PM2 cluster mode",
    tool: "pm2-runtime",
    counts: [1, 2],
    corral: null,
    launch: (tools, port, workers, tmp) => {
      // A PM2_HOME of its own; the "touch" file tells PM2 it was set up
      // already, or its first start would call home to pm2.io.
      const home = mkdtempSync(join(tmp, "pm2-"));
      writeFileSync(join(home, "touch"), "");
      return {
        argv: [
          _tool(tools, "pm2-runtime"),
          "start",
          "scripts/bench/peers/node_app.mjs",
          "-i",
          String(workers),
        ],
        env: { PM2_HOME: home, PORT: String(port) },
      };
    },
  },
  _gunicorn("sync"),
  _gunicorn("gthread"),
];

/** Where PM2 is installed for the benchmark, outside the project. */
export function pm2Dir(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "corral-bench", `pm2-${PM2_VERSION}`);
}

/** The command that installs PM2 where {@link findPeerTools} looks. */
export function pm2InstallCommand(): string {
  return `mkdir -p ${pm2Dir()} && npm install --prefix ${pm2Dir()} --no-save pm2@${PM2_VERSION}`;
}

/** Finds every peer's program: node_modules/.bin first, then $PATH; PM2 in {@link pm2Dir}. */
export function findPeerTools(): PeerTools {
  const bin = join(ROOT, "node_modules", ".bin");
  const hints: Record<ToolName, string> = {
    deno: `run npm install in ${ROOT}`,
    bun: `run npm install in ${ROOT}`,
    node: "apt-get install nodejs",
    "pm2-runtime": pm2InstallCommand(),
    gunicorn: "apt-get install gunicorn",
  };
  const found: Partial<Record<ToolName, string>> = {};
  const missing: Partial<Record<ToolName, string>> = {};
  for (const name of Object.keys(hints) as ToolName[]) {
    const dirs = name === "pm2-runtime" ? [join(pm2Dir(), "node_modules", ".bin"), bin] : [bin];
    const path = which(name, dirs);
    // pm2-runtime is a node script: without node it cannot start.
    if (path !== null && (name !== "pm2-runtime" || found.node)) found[name] = path;
    else missing[name] = `"${name}" not found; ${hints[name]}`;
  }
  return { found, missing };
}
