/**
 * Slow clients, measured: corral on loopback serving normal keep-alive
 * clients, first alone, then while `--heads` slowloris connections (a
 * request head at 1 byte/s) and `--bodies` slow uploads (a 1 MiB body at 1
 * byte/s) attack it; with corral's slow-client timeouts at their defaults
 * and turned off. Reports the normal clients' latency (p99 attacked over
 * p99 alone), the worker's resident memory, and when and how the server
 * closed the attackers. docs/SECURITY.md keeps the figures.
 *
 * corral is pinned to one core and the attackers and clients to another
 * (taskset), each with `ulimit -n` raised for the connections. Only node:
 * built-ins and Web APIs, so it runs on Deno and Bun:
 * `deno run -A scripts/slow/main.ts`, `bun scripts/slow/main.ts`; `--help` lists the flags.
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "../bench/_http.ts";
import { rssKiB } from "../bench/_peers_start.ts";
import { Corral, killAll, type RuntimeName } from "../stress/_corral.ts";
import { HERE, runtimeCommand } from "../stress/_options.ts";
import type { AttackKind, AttackReport } from "./_attackers.ts";
import { type ClientsResult, runClients } from "./_clients.ts";
import { type Options, parseOptions, USAGE, UsageError } from "./_options.ts";

const APP = join(HERE, "scripts", "slow", "_app.ts");
const ATTACKERS = join(HERE, "scripts", "slow", "_attackers.ts");
const BOOT_TIMEOUT_MS = 30_000;
const WARMUP_S = 2;
const RSS_EVERY_MS = 250;
/** The attack's p99 is also given without its first seconds: the burst of its connections is over. */
const SETTLED_S = 5;

function _say(line: string): void {
  process.stderr.write(`slow: ${line}\n`);
}

/** `argv` run with `ulimit -n` raised and pinned to `cpu`. */
function _pinned(cpu: number, files: number, argv: readonly string[]): string[] {
  return ["sh", "-c", `ulimit -n ${files} && exec taskset -c ${cpu} "$0" "$@"`, ...argv];
}

/** The resident memory of some processes, sampled: the highest of them, highest and last since {@link reset}. */
class _Rss {
  readonly #pids: readonly number[];
  readonly #timer: ReturnType<typeof setInterval>;
  peakKiB = 0;
  lastKiB = 0;

  constructor(pids: readonly number[]) {
    this.#pids = pids;
    this.#timer = setInterval(() => this.#sample(), RSS_EVERY_MS);
    this.#sample();
  }

  #sample(): void {
    this.lastKiB = Math.max(...this.#pids.map(rssKiB));
    this.peakKiB = Math.max(this.peakKiB, this.lastKiB);
  }

  reset(): void {
    this.peakKiB = 0;
    this.#sample();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Starts the attackers (on the runtime running this script); resolves once
 * all are connected, with their report to come (in an object: a promise
 * resolved with a promise would wait for the report).
 */
async function _attack(opts: Options, port: number): Promise<{ report: Promise<AttackReport> }> {
  const runner = "Bun" in globalThis ? [process.execPath] : [process.execPath, "run", "-A"];
  const argv = [
    ...runner,
    ATTACKERS,
    `--port=${port}`,
    `--heads=${opts.heads}`,
    `--bodies=${opts.bodies}`,
    `--body-size=${opts.bodySize}`,
    `--seconds=${opts.attackS}`,
  ];
  const [program, ...args] = _pinned(opts.clientCpu, opts.heads + opts.bodies + 1024, argv) as [
    string,
    ...string[],
  ];
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || !String(first.value).startsWith("connected")) {
    throw new Error("The attackers did not connect");
  }
  _say(`  attackers ${first.value}`);
  const report = lines.next().then((last) => {
    if (last.done) throw new Error("The attackers exited without a report");
    return JSON.parse(String(last.value)) as AttackReport;
  });
  return { report };
}

/** One run's figures. */
interface Row {
  readonly runtime: RuntimeName;
  readonly defence: "on" | "off";
  readonly alone: ClientsResult;
  readonly attacked: ClientsResult;
  /** The worker's: alone; the highest from the attack's first connection on; at its end, before it hangs up. */
  readonly rssKiB: { readonly alone: number; readonly peak: number; readonly end: number };
  readonly report: AttackReport;
}

/** Starts corral, measures the clients alone then under attack, stops it. */
async function _run(opts: Options, runtime: RuntimeName, defence: "on" | "off"): Promise<Row> {
  const port = await freePort();
  const args = ["-w", String(opts.workers), "-b", `127.0.0.1:${port}`, "--keep-alive", "5"];
  const timeouts = defence === "off" ? "0" : opts.timeouts === null ? null : String(opts.timeouts);
  if (timeouts !== null) args.push("--header-timeout", timeouts, "--body-timeout", timeouts);
  const files = opts.heads + opts.bodies + 1024;
  const corral = new Corral(_pinned(opts.serverCpu, files, runtimeCommand(runtime)), [...args, APP], HERE);
  try {
    await corral.waitForLog(/Ready: \d+ workers? serving/g, 1, BOOT_TIMEOUT_MS);
    const rss = new _Rss(corral.liveWorkers());
    try {
      await runClients(port, opts.clients, opts.rate, WARMUP_S);
      rss.reset();
      const alone = await runClients(port, opts.clients, opts.rate, opts.baselineS);
      const aloneKiB = rss.peakKiB;
      _say(`  alone: p99 ${alone.p99.toFixed(1)} ms, worker ${(aloneKiB / 1024).toFixed(0)} MB`);
      rss.reset();
      const { report } = await _attack(opts, port);
      let endKiB = 0;
      const [attacked, attack] = await Promise.all([
        runClients(port, opts.clients, opts.rate, opts.windowS, SETTLED_S),
        // The attackers hang up once they have reported: the last sample is from before.
        report.then((r) => (endKiB = rss.lastKiB, r)),
      ]);
      return {
        runtime,
        defence,
        alone,
        attacked,
        rssKiB: { alone: aloneKiB, peak: rss.peakKiB, end: endKiB },
        report: attack,
      };
    } finally {
      rss.stop();
    }
  } finally {
    await corral.stop();
  }
}

function _closed(kind: AttackKind, total: number): string {
  if (kind.opened === 0) return "";
  const when = kind.closedAfter
    ? `, at ${kind.closedAfter[1].toFixed(1)}–${kind.closedAfter[3].toFixed(1)} s`
    : "";
  return `${kind.closed}/${total}${when} (${kind.answered408} × 408)`;
}

/** The rows as a Markdown table. */
function _table(rows: readonly Row[], opts: Options): string {
  const mb = (kib: number) => (kib / 1024).toFixed(0);
  const head = [
    "runtime",
    "defence",
    "p99 alone",
    "p99 attacked",
    "ratio",
    `p99 attacked after ${SETTLED_S} s`,
    "failed",
    "worker RSS alone / attack peak / attack end, MB",
    `heads closed (median–last)`,
    `bodies closed (median–last)`,
  ];
  const body = rows.map((r) => [
    r.runtime,
    r.defence,
    `${r.alone.p99.toFixed(1)} ms`,
    `${r.attacked.p99.toFixed(1)} ms`,
    `${(r.attacked.p99 / Math.max(r.alone.p99, 0.001)).toFixed(2)}×`,
    `${r.attacked.p99Later.toFixed(1)} ms (${
      (r.attacked.p99Later / Math.max(r.alone.p99, 0.001)).toFixed(2)
    }×)`,
    `${r.alone.failed + r.attacked.failed}`,
    `${mb(r.rssKiB.alone)} / ${mb(r.rssKiB.peak)} / ${mb(r.rssKiB.end)}`,
    _closed(r.report.heads, opts.heads),
    _closed(r.report.bodies, opts.bodies),
  ]);
  return [head, head.map(() => "---"), ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** Pins this process (the normal clients) to the clients' core. */
function _pinSelf(cpu: number): void {
  const pinned = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], {
    stdio: "ignore",
  });
  if (pinned.status !== 0) _say(`cannot pin this process to core ${cpu} (taskset): the figures are noisier`);
}

async function main(args: string[]): Promise<number> {
  let opts: Options | "help";
  try {
    opts = parseOptions(args);
    if (opts !== "help") opts.runtimes.forEach((rt) => runtimeCommand(rt));
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof TypeError)) throw err;
    process.stderr.write(`slow: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === "help") {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(1);
    });
  }
  _pinSelf(opts.clientCpu);
  const rows: Row[] = [];
  try {
    for (const runtime of opts.runtimes) {
      for (const defence of opts.defences) {
        _say(`${runtime}, defence ${defence}...`);
        rows.push(await _run(opts, runtime, defence));
      }
    }
  } finally {
    killAll();
  }
  const runner = "Bun" in globalThis ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`;
  process.stdout.write(
    `\n${opts.workers} worker(s) on core ${opts.serverCpu}; ${opts.heads} slow heads and ${opts.bodies} slow ` +
      `bodies of ${opts.bodySize} bytes for ${opts.attackS} s; ${opts.clients} normal clients at ${opts.rate} req/s on core ` +
      `${opts.clientCpu} (${runner}), measured ${opts.baselineS} s alone and the attack's first ` +
      `${opts.windowS} s\n\n${_table(rows, opts)}\n`,
  );
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
