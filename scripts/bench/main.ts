/**
 * Server CPU per request, throughput and memory: `corral -w 1` against a
 * bare Deno.serve / Bun.serve and `deno serve --parallel`, on hello world
 * and on a Hono API (wrk, TCP); then corral over a unix socket, direct
 * (-w 1) and relayed by the master (-w 2), with a small keep-alive client.
 * The server's whole process tree runs on core 0, the load generator on
 * core 1. Only node: built-ins, so it runs on Deno and Bun.
 *
 * `deno run -A scripts/bench/main.ts`, `bun scripts/bench/main.ts`; `--help` lists the flags.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { findTools, type Options, parseOptions, type Tools, USAGE } from "./_options.ts";
import { EXIT_FAILED, parseOrUsage, runBounded } from "./_cli.ts";
import { clockTicks, killAllServers, run } from "./_proc.ts";
import { type Env, LOAD_CPU, QUIET_WAIT_MS, RETRIES, SERVER_CPU } from "./_runs.ts";
import { tcpTable } from "./_tcp.ts";
import { unixTable } from "./_unix.ts";
import { type Expected, expectedReply, type Workload, WORKLOADS } from "./_workloads.ts";

const EXIT_MISSING_TOOL = 3;

async function _setUp(args: string[]): Promise<{ opts: Options; tools: Tools } | number> {
  const opts = parseOrUsage(parseOptions, USAGE, args);
  if (typeof opts === "number") return opts;
  const tools = findTools(opts);
  if ("missing" in tools) {
    process.stderr.write(tools.missing + "\n");
    return EXIT_MISSING_TOOL;
  }
  // Any harmless program shows whether both cores can be pinned; getconf is one we have.
  if (
    (await run([tools.taskset, "-c", `${SERVER_CPU},${LOAD_CPU}`, tools.getconf, "CLK_TCK"], 5000)).code !== 0
  ) {
    process.stderr.write(
      `bench: cannot pin to cores ${SERVER_CPU} and ${LOAD_CPU}; this benchmark needs 2\n`,
    );
    return EXIT_MISSING_TOOL;
  }
  return { opts, tools };
}

/** How many servers the tables start, for the run's time bound. */
function _serverCount(opts: Options): number {
  const tcp = opts.tables.includes("tcp") ? opts.workloads.length * opts.variants.length : 0;
  return opts.runtimes.length * (tcp + (opts.tables.includes("unix") ? 3 : 0));
}

async function main(args: string[]): Promise<number> {
  // `--peers`: corral beside Gunicorn, deno serve --parallel, Bun, Node cluster and PM2 (scripts/bench/_peers.ts).
  if (args.includes("--peers")) {
    const { peersMain } = await import("./_peers.ts");
    return await peersMain(args.filter((a) => a !== "--peers"));
  }
  const setUp = await _setUp(args);
  if (typeof setUp === "number") return setUp;
  const { opts, tools } = setUp;
  const expected = new Map<Workload, Expected>();
  for (const workload of Object.values(WORKLOADS)) expected.set(workload, await expectedReply(workload));
  const env: Env = {
    tools,
    tmp: mkdtempSync(join(tmpdir(), "corral-bench-")),
    clockTicks: await clockTicks(),
    expected,
  };
  // The signal handlers leave through process.exit, past the finally below.
  process.once("exit", () => rmSync(env.tmp, { recursive: true, force: true }));
  const runs = opts.rounds * _serverCount(opts) * (1 + RETRIES);
  const boundS = runs * (opts.warmup + opts.duration + QUIET_WAIT_MS / 1000 + 40) + 60;
  process.stderr.write(
    `bench: ${opts.rounds} round(s), ${opts.warmup} s warm-up + ${opts.duration} s per server, ` +
      `${opts.connections} connections; server on core ${SERVER_CPU}, load on core ${LOAD_CPU}\n`,
  );
  return await runBounded(boundS, async () => {
    if (opts.tables.includes("tcp")) {
      const table = await tcpTable(opts, env);
      process.stdout.write(`\n## TCP: wrk -t1 -c${opts.connections} -d${opts.duration}s\n\n${table}\n`);
    }
    if (opts.tables.includes("unix")) {
      const table = await unixTable(opts, env);
      process.stdout.write(
        `\n## Unix socket: ${opts.connections} connections, ${opts.duration} s\n\n${table}\n`,
      );
    }
    return 0;
  }, () => rmSync(env.tmp, { recursive: true, force: true }));
}

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killAllServers();
      process.exit(EXIT_FAILED);
    });
  }
  process.exit(await main(process.argv.slice(2)));
}
