/** scripts/compile.ts: one executable that spawns itself as its workers. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { cachedDenort, denoEntry, findTool, threadEntries } from "../../scripts/compile.ts";
import { alive, cliCommand, freePort, ROOT, RUNTIME, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";
import { freshDenoDir } from "../_helpers/launchers.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-compile-test-"));
const started: ChildProcess[] = [];
after(() => {
  for (const child of started) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
  rmSync(dir, { recursive: true, force: true });
});
const T = { timeout: 120_000 };

function tool(name: "bun" | "deno"): string | null {
  try {
    return findTool(name);
  } catch {
    return null;
  }
}

/** Runs scripts/compile.ts with the runtime running the tests. */
function compile(args: string[], env: Record<string, string> = {}) {
  const [cmd, ...rest] = cliCommand("scripts/compile.ts");
  return spawnSync(cmd as string, [...rest, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 110_000,
  });
}

/** Starts a program; collects its stderr; waits on its log lines. */
function start(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr += d);
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    get stderr() {
      return stderr;
    },
    exited,
    workers: () => [...stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1])),
    waitForLog: (pattern: RegExp) =>
      waitFor(`${pattern} in:\n${stderr}`, () => {
        if (child.exitCode !== null) {
          throw new Error(`exited ${child.exitCode} before ${pattern}:\n${stderr}`);
        }
        return pattern.test(stderr);
      }, 20_000),
  };
}

/** Serves with `binary` (no APP_MODULE when the app is built in), then stops it with TERM. */
async function serveAndStop(binary: string, args: string[]): Promise<void> {
  const port = await freePort();
  const corral = start(binary, ["-w", "2", "-b", `127.0.0.1:${port}`, ...args]);
  await corral.waitForLog(/Ready: 2 workers serving/);
  const workers = corral.workers();
  for (const pid of workers) {
    // The workers are the binary itself, not a runtime running a script.
    assert.equal(readlinkSync(`/proc/${pid}/exe`), binary);
  }
  const seen = new Set<string>();
  for (let i = 0; i < 200 && seen.size < 2; i++) seen.add((await get(`http://127.0.0.1:${port}/`)).body);
  assert.deepEqual([...seen].sort(), workers.map((pid) => `hello ${pid}`).sort());
  await corral.waitForLog(/ship hook: postWorkerInit/);
  process.kill(corral.child.pid as number, "SIGTERM"); // Not child.kill: Deno then reports the signal, not the exit.
  assert.equal(await corral.exited, 0, corral.stderr);
  await waitFor("the workers to exit", () => workers.every((pid) => !alive(pid)), 5000);
}

describe(`scripts/compile.ts (${RUNTIME})`, () => {
  test("finds the thread modules both compilers must be told about", () => {
    for (const path of threadEntries()) assert.ok(existsSync(path), path);
  });

  const bun = tool("bun");
  // What the binary serves, and how, is the launcher matrix's (launchers.test.ts).
  test("--runtime bun: one binary, which names itself", {
    ...T,
    skip: bun ? false : "no bun executable on PATH or in node_modules/.bin (run npm install)",
  }, () => {
    const binary = join(dir, "corral-bun");
    const built = compile(["--runtime", "bun", "--output", binary]);
    assert.equal(built.status, 0, built.stderr);
    const version = spawnSync(binary, ["--version"], { encoding: "utf8" });
    assert.match(version.stdout, /^corral \d+\.\d+\.\d+ \(bun /);
  });

  test("--runtime bun refuses an APP_MODULE: that binary takes it at run time", () => {
    const r = compile(["--runtime", "bun", "--output", join(dir, "x"), "tests/apps/ship_hello.ts"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /loads APP_MODULE and the config file at run time/);
  });

  const deno = tool("deno");
  test("--runtime deno: the generated entry serves its built-in app and config, and takes no APP_MODULE", {
    ...T,
    skip: deno ? false : "no deno executable on PATH or in node_modules/.bin (run npm install)",
  }, async () => {
    const entry = join(dir, "corral_main.ts");
    const emitted = compile([
      "--runtime",
      "deno",
      "--emit-entry",
      entry,
      "-c",
      "tests/apps/ship_config.ts",
      "tests/apps/ship_hello.ts",
    ]);
    assert.equal(emitted.status, 0, emitted.stderr);
    assert.match(denoEntry("tests/apps/ship_hello.ts:default"), /exportName: "default"/);
    const run = ["run", "-A", "--config", join(ROOT, "deno.json"), entry];
    const refused = spawnSync(deno as string, [...run, "tests/apps/pid.ts"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /serves the app built into it \(ship_hello.ts\); it takes no APP_MODULE/);
    const port = await freePort();
    const corral = start(deno as string, [...run, "-b", `127.0.0.1:${port}`]);
    await corral.waitForLog(/Ready: 2 workers serving/); // workers: 2 from the built-in config
    await corral.waitForLog(/ship hook: whenReady/);
    assert.match((await get(`http://127.0.0.1:${port}/`)).body, /^hello \d+$/);
    process.kill(corral.child.pid as number, "SIGTERM");
    assert.equal(await corral.exited, 0, corral.stderr);
  });

  // deno compile runs where it has denort: DENORT_BIN, or the copy a
  // former deno compile downloaded into the cache.
  const cached = deno ? cachedDenort(deno) : "";
  const denoCompile = deno &&
    (process.env.DENORT_BIN || existsSync(cached) || process.env.CORRAL_TEST_DENO_COMPILE === "1");
  const DENORT_SKIP = "deno compile needs the denort runtime, which it downloads from dl.deno.land, " +
    `out of this machine's reach, and none is cached at ${cached}: set DENORT_BIN=/path/to/denort ` +
    "(or CORRAL_TEST_DENO_COMPILE=1 where the network allows) to run this test";
  // Deno's node:test reports a skipped test without its reason: say it here too.
  if (deno && !denoCompile) console.error(`SKIP deno compile test: ${DENORT_SKIP}`);
  test("--runtime deno: deno compile builds a binary with the app built in, which serves", {
    ...T,
    skip: denoCompile ? false : DENORT_SKIP,
  }, async () => {
    const binary = join(dir, "corral-deno");
    const built = compile([
      "--runtime",
      "deno",
      "--output",
      binary,
      "-c",
      "tests/apps/ship_config.ts",
      "tests/apps/ship_hello.ts",
    ]);
    assert.equal(built.status, 0, built.stderr);
    await serveAndStop(binary, []);
  });

  test("--runtime deno: deno compile takes a cached denort from where the test looks for one", {
    ...T,
    skip: deno ? false : "no deno executable",
  }, () => {
    // A fresh DENO_DIR whose cached denort is not a zip: deno compile reads
    // it (and fails to unpack it) instead of going to download one.
    const denoDir = freshDenoDir(dir);
    const path = cachedDenort(deno as string, { ...process.env, DENO_DIR: denoDir });
    assert.ok(path.startsWith(denoDir), path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, "not a zip");
    const { DENORT_BIN: _, ...rest } = process.env;
    const r = spawnSync(cliCommand("scripts/compile.ts")[0] as string, [
      ...cliCommand("scripts/compile.ts").slice(1),
      "--runtime",
      "deno",
      "--output",
      join(dir, "never-2"),
      "tests/apps/ship_hello.ts",
    ], { cwd: ROOT, env: { ...rest, DENO_DIR: denoDir }, encoding: "utf8", timeout: 110_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Failed to unpack archive/);
    assert.doesNotMatch(r.stderr, /dl\.deno\.land|Download/);
  });

  test("--runtime deno: deno compile resolves everything it embeds, up to the denort download", {
    ...T,
    skip: !deno ? "no deno executable" : denoCompile ? "the full deno compile test runs instead" : false,
  }, () => {
    // DENORT_BIN at a missing file: deno compile stops only once the module
    // graph (app, config, thread, npm: LogTape) is built.
    const missing = join(dir, "no-denort");
    const r = compile(["--runtime", "deno", "--output", join(dir, "never"), "tests/apps/ship_hello.ts"], {
      DENORT_BIN: missing,
    });
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(`Could not find denort at '${missing}'`), r.stderr);
    assert.ok(!existsSync(join(ROOT, "tests", "apps", `.corral_main_${r.pid}.ts`)));
  });
});
