/**
 * `scripts/bench/main.ts --peers`: corral side by side with the servers people
 * would otherwise use: bare Deno.serve, `deno serve --parallel`, bare
 * Bun.serve with reusePort, Node's cluster module, PM2's cluster mode and
 * Gunicorn (sync and gthread), on three workloads (hello world, a 64 KiB
 * response, a 4 KiB JSON POST echo), with 1 and 2 workers. Each server gets
 * the same cores, wrk the rest; a peer whose program is missing is skipped
 * with a line saying so. Prints Markdown: the machine, one table per
 * workload, the targets, and corral's worker boot times.
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type BootTimes, measureBoot } from "./_peers_boot.ts";
import { findPeerTools, GTHREAD_THREADS, PEERS, type PeerTools } from "./_peers_catalog.ts";
import { parsePeerOptions, type PeerOptions, PEERS_USAGE } from "./_peers_options.ts";
import { type Config, measure, type RunEnv, type Sample } from "./_peers_measure.ts";
import { bootTable, type Row, scenarioTable, verdicts } from "./_peers_report.ts";
import { coreList, layout } from "./_peers_start.ts";
import { type Scenario, type ScenarioName, scenarios, writeLuaScript } from "./_peers_wrk.ts";
import { parseOrUsage, runBounded } from "./_cli.ts";
import { clockTicks, coreTicks, which } from "./_proc.ts";
import { fixed, int } from "./_table.ts";

const EXIT_MISSING_TOOL = 3;
/** Longest wait for the machine to go quiet before a run. */
const QUIET_WAIT_MS = 10_000;
/** The key rows: corral against the bare server of its runtime. */
const KEY_IDS = new Set(["corral-deno", "deno-bare", "deno-parallel", "corral-bun", "bun-bare"]);

function _version(argv: string[]): string {
  try {
    const out = execFileSync(argv[0] as string, argv.slice(1), {
      encoding: "utf8",
      timeout: 10_000,
      stdio: "pipe",
    });
    return out.trim().split("\n")[0] ?? "";
  } catch (err) {
    // wrk -v prints its version and exits 1.
    const out = (err as { stdout?: string }).stdout ?? "";
    return out.trim().split("\n")[0] ?? "?";
  }
}

/** The machine and every program's version, for the doc. */
function machine(tools: PeerTools, wrkPath: string): string {
  const cpuInfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? cpus()[0]?.model ?? "?";
  const f = tools.found;
  const versions = [
    f.deno && `deno ${_version([f.deno, "--version"]).split(" ")[1]}`,
    f.bun && `bun ${_version([f.bun, "--version"])}`,
    f.node && `node ${_version([f.node, "--version"])}`,
    f["pm2-runtime"] && f.node && `pm2 ${_version([f["pm2-runtime"], "--version"])}`,
    f.gunicorn && _version([f.gunicorn, "--version"]),
    _version([wrkPath, "-v"]).split(" [")[0],
  ].filter(Boolean);
  return `- Machine: ${cpus().length} cores (nproc), ${model}, Linux ${release()}\n- ${versions.join(", ")}`;
}

/** Waits, up to QUIET_WAIT_MS, for a half-second in which others used at most `maxPercent` of a core. */
async function _waitForQuiet(maxPercent: number, cores: number): Promise<void> {
  const all = Array.from({ length: cores }, (_, i) => i);
  const busy = () => all.map(coreTicks).reduce((sum, c) => sum + c.busy, 0);
  const deadline = Date.now() + QUIET_WAIT_MS;
  while (Date.now() < deadline) {
    const [b0, t0] = [busy(), coreTicks(0).total];
    await new Promise((r) => setTimeout(r, 500));
    const elapsed = coreTicks(0).total - t0;
    if (elapsed > 0 && (busy() - b0) / elapsed * 100 <= maxPercent) return;
  }
}

/** The rows to measure: every wanted peer whose program was found, with each worker count. */
function configs(
  opts: PeerOptions,
  tools: PeerTools,
  cores: number,
): { configs: Config[]; skipped: string[] } {
  const skipped: string[] = [];
  const list: Config[] = [];
  for (const peer of PEERS) {
    if (opts.only && !opts.only.includes(peer.id)) continue;
    const missing = tools.missing[peer.tool];
    if (missing) {
      skipped.push(`- Skipped ${peer.label}: ${missing}`);
      continue;
    }
    for (const workers of opts.workers) {
      if (!peer.counts.includes(workers)) continue;
      if (workers > cores) {
        skipped.push(`- Skipped ${peer.label} ×${workers}: this machine has ${cores} core(s)`);
        continue;
      }
      list.push({ peer, workers, key: workers === 1 && KEY_IDS.has(peer.id) });
    }
  }
  return { configs: list, skipped };
}

/** A run that others disturbed more than --max-other-load is done again, this many times at most. */
const RETRIES = 1;

/**
 * Measures one row once, again when others disturbed the run, and keeps
 * the least disturbed attempt; a failure comes back as its message.
 */
async function _measureOne(
  config: Config,
  scenario: Scenario,
  script: string | null,
  tag: string,
  opts: PeerOptions,
  env: RunEnv,
): Promise<Sample | string> {
  let kept: Sample | undefined;
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    await _waitForQuiet(opts.maxOtherLoad, env.cores);
    let s: Sample;
    try {
      s = await measure(config, scenario, script, env);
    } catch (err) {
      const message = err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
      process.stderr.write(`[${tag}] ${config.peer.label} ×${config.workers}: FAILED: ${message}\n`);
      return message;
    }
    if (!kept || s.otherLoad < kept.otherLoad) kept = s;
    const again = s.otherLoad > opts.maxOtherLoad && attempt < RETRIES;
    process.stderr.write(
      `[${tag}] ${config.peer.label} ×${config.workers}: ${int(s.requests / s.seconds)} req/s, ` +
        `p99 ${fixed(s.p99Ms, 2)} ms, ${fixed(s.cpuUs)} µs/req, other load ${fixed(s.otherLoad, 0)}%` +
        `${again ? ", again" : ""}\n`,
    );
    if (!again) break;
  }
  return kept as Sample;
}

/**
 * Measures every row of one workload: key rows `rounds` times, the others
 * once, alternating the order so drift hits all alike. A row that fails is
 * reported as failed and the run goes on.
 */
async function measureScenario(
  list: readonly Config[],
  name: ScenarioName,
  opts: PeerOptions,
  env: RunEnv,
): Promise<Row[]> {
  const scenario = scenarios().get(name);
  if (!scenario) throw new RangeError(`Unknown scenario "${name}"`);
  const script = writeLuaScript(env.tmp, scenario);
  const samples = new Map<Config, Sample[]>(list.map((c) => [c, []]));
  const failures = new Map<Config, string>();
  for (let round = 0; round < opts.rounds; round++) {
    const todo = list.filter((c) => (round === 0 || c.key) && !failures.has(c));
    for (const config of round % 2 ? todo.reverse() : todo) {
      const result = await _measureOne(config, scenario, script, `${name} r${round + 1}`, opts, env);
      if (typeof result === "string") failures.set(config, result);
      else samples.get(config)?.push(result);
    }
  }
  return list.map((config) => ({
    config,
    samples: samples.get(config) ?? [],
    failure: failures.get(config) ?? null,
  }));
}

async function _boots(list: readonly Config[], opts: PeerOptions, env: RunEnv) {
  const boots: { label: string; workers: number; times: BootTimes }[] = [];
  for (const { peer, workers } of list.filter((c) => c.peer.corral)) {
    await _waitForQuiet(opts.maxOtherLoad, env.cores);
    const times = await measureBoot(peer, workers, opts.bootStarts, env, opts.maxOtherLoad);
    process.stderr.write(
      `[boot] ${peer.label} ×${workers}: ${times.workerBootMs.map((t) => fixed(t, 0)).join(", ")} ms\n`,
    );
    boots.push({ label: peer.label, workers, times });
  }
  return boots;
}

function _layoutNote(opts: PeerOptions, cores: number): string {
  return opts.workers.map((n) => {
    const l = layout(n, cores);
    return `- ${n} worker(s): server on core(s) ${coreList(l.server)}, wrk -t${l.load.length} on core(s) ` +
      `${coreList(l.load)}${
        l.shared ? " (SHARED: too few cores to keep them apart; compare CPU µs/req)" : ""
      }`;
  }).join("\n");
}

async function _report(list: Config[], skipped: string[], opts: PeerOptions, env: RunEnv, wrkPath: string) {
  const out = (text: string) => process.stdout.write(text + "\n");
  out(`## Peers\n\n${machine(env.tools, wrkPath)}`);
  out(
    `- wrk -c${opts.connections} --latency, ${opts.warmup} s warm-up + ${opts.duration} s per run; ` +
      `key rows ${opts.rounds} run(s), medians; Gunicorn gthread with ${GTHREAD_THREADS} threads per worker`,
  );
  if (opts.corralArgs.length) out(`- corral started with ${opts.corralArgs.join(" ")}`);
  out(_layoutNote(opts, env.cores));
  if (skipped.length) out(skipped.join("\n"));
  const all = scenarios();
  for (const name of opts.scenarios) {
    const rows = await measureScenario(list, name, opts, env);
    out(`\n### ${all.get(name)?.title}: ${all.get(name)?.method} ${all.get(name)?.path}\n`);
    out(scenarioTable(rows, env.cores));
    out(`\n${verdicts(rows, env.cores).join("\n")}`);
  }
  if (opts.boot && opts.bootStarts > 0 && list.some((c) => c.peer.corral)) {
    const boots = await _boots(list, opts, env);
    out(`\n### corral's worker boot (${opts.bootStarts} starts each)\n\n${bootTable(boots)}`);
  }
}

function _setUp(
  args: string[],
): { opts: PeerOptions; tools: PeerTools; wrk: string; taskset: string } | number {
  const opts = parseOrUsage(parsePeerOptions, PEERS_USAGE, args);
  if (typeof opts === "number") return opts;
  const [wrk, taskset, getconf] = ["wrk", "taskset", "getconf"].map((name) => which(name));
  for (
    const [name, path, hint] of [["wrk", wrk, "apt-get install -y wrk"], [
      "taskset",
      taskset,
      "install util-linux",
    ], [
      "getconf",
      getconf,
      "install libc-bin",
    ]]
  ) {
    if (!path) {
      process.stderr.write(`bench: "${name}" not found on $PATH; ${hint}\n`);
      return EXIT_MISSING_TOOL;
    }
  }
  return { opts, tools: findPeerTools(), wrk: wrk as string, taskset: taskset as string };
}

/** Runs the peers benchmark; returns the exit code. */
export async function peersMain(args: string[]): Promise<number> {
  const setUp = _setUp(args);
  if (typeof setUp === "number") return setUp;
  const { opts, tools } = setUp;
  const cores = cpus().length;
  const { configs: list, skipped } = configs(opts, tools, cores);
  const env: RunEnv = {
    tools,
    wrk: setUp.wrk,
    taskset: setUp.taskset,
    cores,
    clockTicks: await clockTicks(),
    connections: opts.connections,
    warmup: opts.warmup,
    duration: opts.duration,
    tmp: mkdtempSync(join(tmpdir(), "corral-peers-")),
    corralArgs: opts.corralArgs,
  };
  const keyRuns = list.filter((c) => c.key).length * (opts.rounds - 1);
  const runs = (list.length + keyRuns) * opts.scenarios.length * 2 + list.length * opts.bootStarts * 2;
  const boundS = runs * (opts.warmup + opts.duration + QUIET_WAIT_MS / 1000 + 30) + 60;
  process.stderr.write(
    `bench --peers: ${list.length} rows × ${opts.scenarios.length} workloads, at most ${boundS} s\n`,
  );
  return await runBounded(boundS, async () => {
    await _report(list, skipped, opts, env, setUp.wrk);
    return 0;
  }, () => rmSync(env.tmp, { recursive: true, force: true }));
}
