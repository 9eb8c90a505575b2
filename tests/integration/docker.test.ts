/**
 * The Dockerfile and docs/deploy.md, checked without a Docker engine: every
 * path they copy exists, every flag they pass exists, and the binary does
 * what the image asks of it (PORT, WEB_CONCURRENCY, the health check, TERM).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { findTool } from "../../scripts/compile.ts";
import { longFlag, SETTINGS } from "../../lib/config/settings.ts";
import { alive, cliCommand, freePort, ROOT, RUNTIME, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-docker-test-"));
const kill: (() => void)[] = [];
after(() => {
  for (const fn of kill) fn();
  rmSync(dir, { recursive: true, force: true });
});

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function dockerfile(): Instruction[] {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  return text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((line) => {
    const [op, ...rest] = line.split(/\s+/);
    return { op: (op as string).toUpperCase(), args: rest.join(" ") };
  });
}

const FLAGS = new Set(SETTINGS.flatMap((s) => [...s.flags]).concat(["-h", "--help", "-v", "--version"]));

/** The corral flags in a command line. */
function flagsIn(words: readonly string[]): string[] {
  return words.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.split("=")[0] as string);
}

describe("Dockerfile", () => {
  const steps = dockerfile();
  const of = (op: string) => steps.filter((s) => s.op === op);
  const args = (op: string) => of(op).map((s) => s.args);

  test("is multi-stage: builds with scripts/compile.ts, runs the binary alone", () => {
    const froms = args("FROM");
    assert.ok(froms.length >= 2, "a build stage and a run stage");
    assert.match(froms[0] as string, / AS build$/);
    assert.doesNotMatch(froms.at(-1) as string, / AS build/);
    const build = args("RUN").find((r) => r.includes("scripts/compile.ts")) ?? "";
    assert.match(build, /scripts\/compile\.ts --runtime bun --output (\S+)/);
    const output = /--output (\S+)/.exec(build)?.[1];
    assert.ok(args("COPY").includes(`--from=build ${output} /usr/local/bin/corral`));
    assert.deepEqual(JSON.parse(args("ENTRYPOINT")[0] as string), ["/usr/local/bin/corral"]);
  });

  test("copies only paths that exist and that .dockerignore lets through", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n")
      .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const appDir = /APP_DIR=(\S+)/.exec(args("ARG").join(" "))?.[1] as string;
    for (const copy of args("COPY").filter((c) => !c.startsWith("--from"))) {
      const words = copy.split(" ").filter((w) => !w.startsWith("--"));
      for (const source of words.slice(0, -1)) {
        const path = source.replace("${APP_DIR}", appDir).replace(/\/$/, "");
        assert.ok(existsSync(join(ROOT, path)), `COPY ${source}: ${path} does not exist`);
        assert.ok(
          !ignored.includes(path.split("/")[0] as string),
          `COPY ${source}: ${path} is in .dockerignore`,
        );
      }
    }
    const cmd = JSON.parse(args("CMD")[0] as string) as string[];
    assert.ok(existsSync(join(ROOT, appDir, cmd.at(-1) as string)), "CMD's app is in APP_DIR");
    assert.deepEqual(flagsIn(cmd).filter((f) => !FLAGS.has(f)), []);
  });

  test("runs as a user it creates, stops with TERM, checks its health on $PORT", () => {
    const user = args("USER")[0];
    assert.ok(user && user !== "root" && user !== "0");
    assert.ok(
      args("RUN").some((r) => r.includes(`useradd`) && r.endsWith(` ${user}`)),
      "the user is created",
    );
    assert.deepEqual(args("STOPSIGNAL"), ["SIGTERM"]);
    const env = args("ENV").join(" ");
    const port = /PORT=(\d+)/.exec(env)?.[1];
    assert.ok(port, "ENV PORT");
    assert.deepEqual(args("EXPOSE"), [port]);
    assert.match(args("HEALTHCHECK")[0] as string, /CMD curl .*127\.0\.0\.1:\$\{PORT\}/);
    const envVars = SETTINGS.map((s) => s.env).filter(Boolean);
    assert.ok(
      envVars.includes("PORT") && envVars.includes("WEB_CONCURRENCY"),
      "the settings table reads both",
    );
  });
});

describe("docs/deploy.md", () => {
  const doc = readFileSync(join(ROOT, "docs", "deploy.md"), "utf8");

  test("passes corral, and scripts/compile.ts, only flags that exist", () => {
    const compileFlags = new Set([
      "--runtime",
      "--output",
      "-o",
      "--config",
      "-c",
      "--target",
      "--emit-entry",
    ]);
    const blocks = [...doc.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1] as string).join("\n");
    const unknown: string[] = [];
    for (const line of blocks.split("\n")) {
      const m = /(\S*compile\.ts|\S*\/corral|\S*cli\.ts|\.\/dist\/[\w-]+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const known = (m[1] as string).endsWith("compile.ts") ? compileFlags : FLAGS;
      unknown.push(
        ...flagsIn((m[2] as string).split(/\s+/)).filter((f) => !known.has(f)).map((f) => `${f} in: ${line}`),
      );
    }
    assert.deepEqual(unknown, []);
  });

  test("the systemd unit: Type=notify, HUP reload, KillMode=mixed, TimeoutStopSec above the graceful timeout", () => {
    // docs/deploy.md points at the unit it ships (deploy/systemd/), checked by systemd-analyze in systemd_units.test.ts.
    assert.match(doc, /deploy\/systemd\/corral\.service/);
    const unit = readFileSync(join(ROOT, "deploy/systemd/corral.service"), "utf8");
    const graceful = SETTINGS.find((s) => longFlag(s) === "--graceful-timeout")?.default as number;
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^KillMode=mixed$/m);
    assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]) > graceful);
  });

  test("the Kubernetes Deployment: grace period above the graceful timeout, probes, WEB_CONCURRENCY", () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    const graceful = SETTINGS.find((s) => longFlag(s) === "--graceful-timeout")?.default as number;
    assert.ok(Number(/terminationGracePeriodSeconds: (\d+)/.exec(yaml)?.[1]) > graceful);
    assert.match(yaml, /readinessProbe:/);
    assert.match(yaml, /livenessProbe:/);
    assert.match(yaml, /name: WEB_CONCURRENCY/);
  });
});

describe(`the image's command, without Docker (${RUNTIME})`, () => {
  let bun: string | null = null;
  try {
    bun = findTool("bun");
  } catch { /* skipped below */ }
  test(
    "the binary serves CMD's app from APP_DIR on $PORT with $WEB_CONCURRENCY workers, answers the health check, stops on TERM",
    {
      timeout: 120_000,
      skip: bun ? false : "no bun executable on PATH or in node_modules/.bin (run npm install)",
    },
    async () => {
      const binary = join(dir, "corral");
      const [cmd, ...rest] = cliCommand("scripts/compile.ts");
      const built = spawnSync(cmd as string, [...rest, "--runtime", "bun", "--output", binary], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 110_000,
      });
      assert.equal(built.status, 0, built.stderr);
      const port = await freePort("0.0.0.0");
      const cmdArgs = JSON.parse(dockerfile().find((s) => s.op === "CMD")?.args as string) as string[];
      const child = spawn(binary, cmdArgs, {
        cwd: join(ROOT, "examples"), // WORKDIR /app holds APP_DIR
        env: { ...process.env, PORT: String(port), WEB_CONCURRENCY: "2", HEALTHCHECK_PATH: "/" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      kill.push(() => child.exitCode === null && child.kill("SIGKILL"));
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr += d);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await waitFor(`ready:\n${stderr}`, () => /Ready: 2 workers serving/.test(stderr), 20_000);
      assert.match(stderr, new RegExp(`Listening at: http://0.0.0.0:${port}`));
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200, "the HEALTHCHECK's request");
      const workers = [...stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
      process.kill(child.pid as number, "SIGTERM");
      assert.equal(await exited, 0, stderr);
      await waitFor("the workers to exit", () => workers.every((pid) => !alive(pid)), 5000);
    },
  );
});
