/**
 * Start-up time, measured: from spawning corral to its "Ready" line, for
 * each launcher and each kind of app, in interleaved rounds (each round
 * starts every pair once, so a drifting machine shifts them alike); prints
 * the medians as a Markdown table. What it answers: what the Bun binary's
 * resolution of an app's own node_modules costs (the binary built with and
 * without --compile-autoload-package-json, on an app without packages),
 * and what loading an app written for Deno costs on Bun (Bun.build of its
 * modules, lib/runtime/bun_deno_config.ts) against the same app written
 * with a package.json.
 *
 * `deno run -A scripts/startup/main.ts`, `bun scripts/startup/main.ts`;
 * `--rounds N` (default 10), `--workers N` (default 1).
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { median } from "../bench/_table.ts";
import { freePort } from "../bench/_http.ts";
import { bunBuildArgs, findTool, ROOT } from "../compile.ts";

interface Launcher {
  readonly name: string;
  readonly command: readonly string[];
  /** The apps it is measured with. */
  readonly apps: readonly AppName[];
}
type AppName = "no package" | "a package in node_modules" | "written for Deno";

/** The app folders, in `scratch`: each as its deployment would leave it. */
function apps(scratch: string): Record<AppName, { dir: string; deno: string[] }> {
  const withLogTape = (dir: string) => {
    mkdirSync(join(dir, "node_modules", "@logtape"), { recursive: true });
    cpSync(
      join(ROOT, "node_modules", "@logtape", "logtape"),
      join(dir, "node_modules", "@logtape", "logtape"),
      {
        recursive: true,
      },
    );
    return dir;
  };
  const hello = join(scratch, "hello");
  mkdirSync(hello);
  cpSync(join(ROOT, "examples", "hello.ts"), join(hello, "app.ts"));
  const node = withLogTape(join(scratch, "node"));
  cpSync(join(ROOT, "tests", "apps", "launcher_app.ts"), join(node, "app.ts"));
  writeFileSync(join(node, "package.json"), JSON.stringify({ type: "module", dependencies: {} }));
  const deno = join(scratch, "deno");
  cpSync(join(ROOT, "tests", "apps", "deno_app"), deno, { recursive: true });
  withLogTape(deno);
  return {
    "no package": { dir: hello, deno: [] },
    "a package in node_modules": { dir: node, deno: [] },
    "written for Deno": { dir: deno, deno: ["--config", join(deno, "deno.jsonc")] },
  };
}

/** Builds the Bun binary, with or without the flag that lets it read node_modules. */
function buildBinary(output: string, autoload: boolean): string {
  const args = bunBuildArgs(output).filter((a) => autoload || a !== "--compile-autoload-package-json");
  const built = spawnSync(findTool("bun"), args, { cwd: ROOT, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`bun build failed:\n${built.stderr}`);
  return output;
}

/** Milliseconds from spawn to "Ready: N workers serving"; then stops it. */
async function startOnce(command: readonly string[], cwd: string, workers: number): Promise<number> {
  const port = await freePort();
  const [cmd, ...rest] = command;
  const started = performance.now();
  const child: ChildProcess = spawn(cmd as string, [
    ...rest,
    "-w",
    String(workers),
    "-b",
    `127.0.0.1:${port}`,
    "app.ts",
  ], {
    cwd,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const ms = await new Promise<number>((resolve, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (/Ready: \d+ workers? serving/.test(stderr)) resolve(performance.now() - started);
    });
    child.on("exit", (code) => reject(new Error(`${command.join(" ")} exited ${code}:\n${stderr}`)));
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  return ms;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { rounds: { type: "string", default: "10" }, workers: { type: "string", default: "1" } },
  });
  const rounds = Number(values.rounds);
  const workers = Number(values.workers);
  const scratch = mkdtempSync(join(tmpdir(), "corral-startup-"));
  try {
    const folders = apps(scratch);
    const cli = join(ROOT, "cli.ts");
    const all: AppName[] = ["no package", "a package in node_modules", "written for Deno"];
    const launchers: Launcher[] = [
      { name: "deno run cli.ts", command: [findTool("deno"), "run", "-A", cli], apps: all },
      { name: "bun cli.ts", command: [findTool("bun"), cli], apps: all },
      { name: "the Bun binary", command: [buildBinary(join(scratch, "corral"), true)], apps: all },
      {
        name: "the Bun binary without --compile-autoload-package-json",
        command: [buildBinary(join(scratch, "corral-noauto"), false)],
        apps: ["no package"],
      },
    ];
    const samples = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const launcher of launchers) {
        for (const app of launcher.apps) {
          const { dir, deno } = folders[app];
          const [first, ...rest] = launcher.command;
          // Deno takes the app's own config with --config; Bun finds it.
          const command = launcher.name.startsWith("deno") && deno.length
            ? [first as string, ...rest.slice(0, 2), ...deno, ...rest.slice(2)]
            : launcher.command;
          const key = `${launcher.name}\t${app}`;
          samples.set(key, [...samples.get(key) ?? [], await startOnce(command, dir, workers)]);
        }
      }
      process.stderr.write(`startup: round ${round}/${rounds}\n`);
    }
    const rows = [...samples].map(([key, ms]) => {
      const [launcher, app] = key.split("\t");
      return `| ${launcher} | ${app} | ${median(ms).toFixed(0)} | ${Math.min(...ms).toFixed(0)} |`;
    });
    process.stdout.write(
      [
        `Start-up to "Ready", -w ${workers}, ${rounds} interleaved rounds (ms):`,
        "",
        "| launcher | app | median | min |",
        "| --- | --- | ---: | ---: |",
        ...rows,
        "",
      ].join("\n"),
    );
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
