/**
 * Zero loss, measured: corral on loopback under steady bounded load, two
 * loads at once (keep-alive clients, and clients that open a connection
 * per request), through HUP reloads, TTIN/TTOU, --max-requests recycling,
 * a USR2 upgrade and a SIGKILLed worker, with Linux's
 * net.ipv4.tcp_migrate_req off and on. Prints one table row per
 * scenario, runtime, migrate_req and load; docs/RELIABILITY.md keeps the
 * figures. Only node: built-ins and Web APIs, so it runs on Deno and Bun.
 *
 * `deno run -A scripts/stress/main.ts`, `bun scripts/stress/main.ts`; `--help` lists the flags.
 * Setting tcp_migrate_req takes root; the original value is put back at the end.
 * @module
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "../bench/_http.ts";
import { Corral, killAll, type RuntimeName } from "./_corral.ts";
import { describeFailures, Load, type LoadResult, type Mode } from "./_load.ts";
import { HERE, type Options, parseOptions, runtimeCommand, USAGE, UsageError } from "./_options.ts";
import type { Context, Outcome, Scenario } from "./_scenarios.ts";
import { readMigrateReq, writeMigrateReq } from "./_sysctl.ts";
import { lost, markdownTable, type Row } from "./_table.ts";

const APP = join(HERE, "scripts", "stress", "_app.ts");
const MODES: readonly Mode[] = ["keep-alive", "new-connection"];
const BOOT_TIMEOUT_MS = 30_000;
/** Load before the event and after it is over: the event happens in steady state. */
const STEADY_MS = 1000;
/** Unpaced, the rate is unknown; --max-requests is sized for this many requests/s per worker. */
const UNPACED_RATE = 1000;
const EXIT_LOSS = 1;
const EXIT_USAGE = 2;

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function _say(line: string): void {
  process.stderr.write(`stress: ${line}\n`);
}

type Mark = { readonly at: number; readonly event: string };

/** Events and failures in time order, on stderr (--verbose). */
function _timeline(marks: readonly Mark[], results: readonly LoadResult[]): void {
  const failures = results.flatMap((r) =>
    r.failures.map((f) => ({
      at: f.at,
      event: `  ${r.mode}: ${f.code}${f.reused ? ` on a reused conn to ${f.pid}` : ""}, sent at ${
        f.sentAt.toFixed(1)
      } ms`,
    }))
  );
  for (const { at, event } of [...marks, ...failures].sort((a, b) => a.at - b.at)) {
    process.stderr.write(`${at.toFixed(1).padStart(9)} ms ${event}\n`);
  }
}

/** The table rows of one run: one per load. */
function _rows(
  base: Pick<Row, "scenario" | "runtime" | "migrateReq">,
  loads: readonly Load[],
  results: readonly LoadResult[],
  outcome: Outcome | undefined,
  error: string | null,
): Row[] {
  if (results.length === 0) {
    return [{ ...base, load: "", requests: null, failed: null, allowed: null, error, notes: "" }];
  }
  return results.map((result, i): Row => {
    const load = loads[i] as Load;
    const notes = [...(outcome?.notes ?? []), ...(outcome?.perLoad?.get(load) ?? [])];
    if (result.failures.length) notes.push(describeFailures(result.failures));
    if (result.closeHeaders) notes.push(`${result.closeHeaders} × Connection: close`);
    if (result.idleClosed) notes.push(`${result.idleClosed} idle conns closed by the server`);
    return {
      ...base,
      load: result.mode,
      requests: result.requests,
      failed: result.failures.length,
      allowed: outcome?.allowed?.get(load) ?? null,
      error,
      notes: notes.join("; "),
    };
  });
}

/** Starts corral, runs one scenario under both loads, stops everything. */
async function runScenario(scenario: Scenario, runtime: RuntimeName, migrateReq: string, opts: Options) {
  const port = await freePort();
  const perWorker = opts.rate > 0 ? (opts.rate * MODES.length) / opts.workers : UNPACED_RATE;
  const args = ["-w", String(opts.workers), "-b", `127.0.0.1:${port}`, "--graceful-timeout", "10"];
  const corral = new Corral(
    runtimeCommand(runtime),
    [...args, ...scenario.args(perWorker), ...opts.corralArgs, APP],
    opts.root,
    {
      STRESS_DELAY_MS: String(opts.delayMs),
    },
  );
  const marks: Mark[] = [];
  let loads: Load[] = [];
  let outcome: Outcome | undefined;
  let error: string | null = null;
  try {
    await corral.waitForLog(/Ready: \d+ workers? serving/g, 1, BOOT_TIMEOUT_MS);
    const origin = performance.now();
    loads = MODES.map((mode) => Load.start({ port, mode, clients: opts.clients, rate: opts.rate, origin }));
    const mark = (event: string) => void marks.push({ at: performance.now() - origin, event });
    // The timeline's 0, on the wall clock, to line it up with corral's log (--log-format json has ms).
    mark(`load started at ${new Date(performance.timeOrigin + origin).toISOString()}`);
    const { workers, quick, seed, seconds, reloads } = opts;
    const ctx: Context = { corral, loads, workers, quick, mark, port, seed, seconds, reloads };
    // Every worker answers before the event: the load is spread and steady.
    await Promise.all(corral.liveWorkers().map((pid) => Promise.any(loads.map((l) => l.served(pid)))));
    await _sleep(opts.quick ? STEADY_MS / 2 : STEADY_MS);
    outcome = await scenario.run(ctx);
    await _sleep(opts.quick ? STEADY_MS / 2 : STEADY_MS);
  } catch (err) {
    error = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
    _say(`${scenario.name} on ${runtime}: ${error}\n${corral.log.split("\n").slice(-15).join("\n")}`);
  }
  const results: LoadResult[] = [];
  for (const load of loads) results.push(await load.stop());
  await corral.stop();
  if (opts.corralLog) writeFileSync(`${opts.corralLog}-${scenario.name}-${runtime}.log`, corral.log);
  if (opts.verbose) _timeline(marks, results);
  return _rows({ scenario: scenario.name, runtime, migrateReq }, loads, results, outcome, error);
}

/** Runs every scenario on every runtime under every migrate_req setting asked for. */
async function runAll(opts: Options, settings: readonly (0 | 1 | null)[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of opts.runtimes) {
    for (const setting of settings) {
      if (setting !== null && setting !== readMigrateReq()) writeMigrateReq(setting);
      const shown = setting === null ? "n/a" : String(setting);
      for (const scenario of opts.scenarios) {
        _say(`${scenario.name} on ${runtime}, tcp_migrate_req=${shown}...`);
        for (const row of await runScenario(scenario, runtime, shown, opts)) {
          _say(
            `  ${row.load || "-"}: ${row.requests} requests, ${row.failed} failed; ${row.error ?? row.notes}`,
          );
          rows.push(row);
        }
      }
    }
  }
  return rows;
}

async function main(args: string[]): Promise<number> {
  let opts: Options | "help";
  try {
    opts = parseOptions(args);
    if (opts !== "help") opts.runtimes.forEach(runtimeCommand);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof TypeError)) throw err;
    process.stderr.write(`stress: ${err.message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (opts === "help") {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const original = readMigrateReq();
  const restore = () => {
    if (original !== null && readMigrateReq() !== original) writeMigrateReq(original);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killAll();
      restore();
      process.exit(EXIT_LOSS);
    });
  }
  let settings: readonly (0 | 1 | null)[] = opts.migrateReq;
  try {
    // Writing the value it has already shows whether we may write it at all.
    if (original !== null) writeMigrateReq(original);
  } catch {
    settings = [original];
    _say(`cannot set net.ipv4.tcp_migrate_req (not root?): running with its current value, ${original}`);
  }
  if (original === null) settings = [null];
  let rows: Row[];
  try {
    rows = await runAll(opts, settings);
  } finally {
    killAll();
    restore();
  }
  const runner = "Bun" in globalThis ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`;
  process.stdout.write(
    `\n${opts.workers} workers; per load ${opts.clients} clients at ${opts.rate || "unpaced"} req/s; ` +
      `app time ${opts.delayMs} ms; load generator on ${runner}\n\n${markdownTable(rows)}\n`,
  );
  return rows.some(lost) ? EXIT_LOSS : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
