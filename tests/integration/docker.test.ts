/**
 * The Dockerfile and docs/deploy.md, checked without a Docker engine: every
 * path they copy exists, every flag they pass exists, and the binary does
 * what the image asks of it (PORT, WEB_CONCURRENCY, the health check, TERM).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { findTool } from "../../scripts/compile.ts";
import { longFlag, SETTINGS } from "../../lib/config/settings.ts";
import { alive, freePort, ROOT, RUNTIME, waitFor } from "../_helpers/corral.ts";
import { buildBunBinary } from "../_helpers/launchers.ts";
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

/** The Dockerfile's default app folder. */
const APP_DIR = /APP_DIR=(\S+)/.exec(dockerfile().filter((s) => s.op === "ARG").map((s) => s.args).join(" "))
  ?.[1] as string;
const FLAGS = new Set(SETTINGS.flatMap((s) => [...s.flags]).concat(["-h", "--help", "-v", "--version"]));

/** The corral flags in a command line. */
function flagsIn(words: readonly string[]): string[] {
  return words.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.split("=")[0] as string);
}

/** The instructions of one stage: from its FROM to the next. */
function stage(steps: readonly Instruction[], name: string | null): Instruction[] {
  const starts = steps.flatMap((s, i) => (s.op === "FROM" ? [i] : []));
  const start = name === null
    ? starts.at(-1) as number
    : starts.find((i) => (steps[i] as Instruction).args.endsWith(` AS ${name}`));
  assert.ok(start !== undefined, `a stage AS ${name}`);
  const end = starts.find((i) => i > start) ?? steps.length;
  return steps.slice(start, end);
}

describe("Dockerfile", () => {
  const steps = dockerfile();
  const of = (op: string) => steps.filter((s) => s.op === op);
  const args = (op: string) => of(op).map((s) => s.args);
  const run = stage(steps, null);

  test("is multi-stage: builds with scripts/compile.ts, installs the app's packages with npm ci, runs the binary alone", () => {
    const froms = args("FROM");
    assert.equal(froms.length, 3, "a build stage, an app stage and a run stage");
    const build = stage(steps, "build").find((r) => r.op === "RUN" && r.args.includes("scripts/compile.ts"));
    assert.match(build?.args ?? "", /scripts\/compile\.ts --runtime bun --output (\S+)/);
    const output = /--output (\S+)/.exec(build?.args ?? "")?.[1];
    const install = stage(steps, "app").filter((r) => r.op === "RUN").map((r) => r.args).join(" ");
    assert.match(install, /\[ -f package-lock\.json \]; then npm ci --omit=dev/);
    const copies = run.filter((r) => r.op === "COPY").map((r) => r.args);
    assert.deepEqual(copies, [`--from=build ${output} /usr/local/bin/corral`, "--from=app /app /app"]);
    assert.deepEqual(JSON.parse(args("ENTRYPOINT")[0] as string), ["/usr/local/bin/corral"]);
  });

  test("pins every base image by digest", () => {
    for (const from of args("FROM")) {
      assert.match(from, /^[\w.\/-]+:[\w.-]+@sha256:[0-9a-f]{64}( AS \w+)?$/, `FROM ${from}`);
    }
  });

  test("copies only paths that exist and that .dockerignore lets through", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n")
      .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const copy of args("COPY").filter((c) => !c.startsWith("--from"))) {
      const words = copy.split(" ").filter((w) => !w.startsWith("--"));
      for (const source of words.slice(0, -1)) {
        const path = source.replace("${APP_DIR}", APP_DIR).replace(/\/$/, "");
        assert.ok(existsSync(join(ROOT, path)), `COPY ${source}: ${path} does not exist`);
        assert.ok(
          !ignored.includes(path.split("/")[0] as string),
          `COPY ${source}: ${path} is in .dockerignore`,
        );
      }
    }
    assert.ok(
      ignored.includes("**/node_modules"),
      "the app's node_modules comes from npm ci, not the context",
    );
    const cmd = JSON.parse(args("CMD")[0] as string) as string[];
    assert.ok(existsSync(join(ROOT, APP_DIR, cmd.at(-1) as string)), "CMD's app is in APP_DIR");
    assert.deepEqual(flagsIn(cmd).filter((f) => !FLAGS.has(f)), []);
  });

  test("runs as a user it creates, who cannot change the app's files", () => {
    const user = run.find((r) => r.op === "USER")?.args;
    assert.ok(user && user !== "root" && user !== "0");
    assert.ok(
      run.some((r) => r.op === "RUN" && r.args.includes(`useradd`) && r.args.endsWith(` ${user}`)),
      "the user is created",
    );
    // COPY without --chown leaves the files root's; nothing hands them over after.
    for (const r of run) {
      assert.doesNotMatch(r.args, /--chown|chown |chmod /, `${r.op} ${r.args}`);
    }
  });

  test("stops with TERM, checks its health on $PORT at $HEALTHCHECK_PATH, a build argument and a variable", () => {
    assert.deepEqual(args("STOPSIGNAL"), ["SIGTERM"]);
    const env = args("ENV").join(" ");
    const port = /PORT=(\d+)/.exec(env)?.[1];
    assert.ok(port, "ENV PORT");
    assert.deepEqual(args("EXPOSE"), [port]);
    assert.match(env, /HEALTHCHECK_PATH=\$\{HEALTHCHECK_PATH\}/);
    assert.match(args("ARG").join(" "), /HEALTHCHECK_PATH=\/\S*/);
    assert.match(
      args("HEALTHCHECK")[0] as string,
      /CMD curl .*127\.0\.0\.1:\$\{PORT\}\$\{HEALTHCHECK_PATH\}/,
    );
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

  test("net.ipv4.tcp_migrate_req=1 for a container: docker run --sysctl, and the kubelet's allow-list", () => {
    const blocks = [...doc.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1] as string).join("\n");
    assert.match(blocks, /^docker run .*--sysctl net\.ipv4\.tcp_migrate_req=1 /m);
    assert.match(blocks, /^kubelet --allowed-unsafe-sysctls=net\.ipv4\.tcp_migrate_req$/m);
    assert.match(blocks, /allowedUnsafeSysctls: \["net\.ipv4\.tcp_migrate_req"\]/);
  });

  test("the Kubernetes Deployment: grace period above the graceful timeout, probes, WEB_CONCURRENCY, the sysctl", () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    assert.match(yaml, /securityContext:\n\s+sysctls:\n\s+- name: net\.ipv4\.tcp_migrate_req\n\s+value: "1"/);
    // The probes ask the image's health check path.
    const healthPath = /HEALTHCHECK_PATH=(\S+)/.exec(
      dockerfile().filter((s) => s.op === "ARG").map((s) => s.args).join(" "),
    )?.[1];
    assert.ok([...yaml.matchAll(/httpGet: \{ path: (\S+),/g)].every((m) => m[1] === healthPath), "probes");
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
    "the app stage's npm ci, then the binary serves CMD's app on $PORT with $WEB_CONCURRENCY workers, passes the HEALTHCHECK, stops on TERM",
    {
      timeout: 120_000,
      skip: bun ? false : "no bun executable on PATH or in node_modules/.bin (run npm install)",
    },
    async () => {
      const steps = dockerfile();
      const binary = buildBunBinary(dir);
      // WORKDIR /app of the app stage: APP_DIR, then its RUN, as the image builds it.
      const app = join(dir, "app");
      cpSync(join(ROOT, APP_DIR), app, { recursive: true, filter: (p) => !p.includes("node_modules") });
      for (const r of stage(steps, "app").filter((r) => r.op === "RUN")) {
        const done = spawnSync("sh", ["-c", r.args], { cwd: app, encoding: "utf8", timeout: 110_000 });
        assert.equal(done.status, 0, `RUN ${r.args}:\n${done.stderr}`);
      }
      assert.ok(existsSync(join(app, "node_modules")), "the app's packages are installed");
      const port = await freePort("0.0.0.0");
      const healthPath = /HEALTHCHECK_PATH=(\S+)/.exec(
        steps.filter((s) => s.op === "ARG").map((s) => s.args).join(" "),
      )
        ?.[1] as string;
      const env = { ...process.env, PORT: String(port), WEB_CONCURRENCY: "2", HEALTHCHECK_PATH: healthPath };
      const cmdArgs = JSON.parse(steps.find((s) => s.op === "CMD")?.args as string) as string[];
      const child = spawn(binary, cmdArgs, { cwd: app, env, stdio: ["ignore", "ignore", "pipe"] });
      kill.push(() => child.exitCode === null && child.kill("SIGKILL"));
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr += d);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await waitFor(`ready:\n${stderr}`, () => /Ready: 2 workers serving/.test(stderr), 20_000);
      assert.match(stderr, new RegExp(`Listening at: http://0.0.0.0:${port}`));
      const check = /CMD (.*)$/.exec(steps.find((s) => s.op === "HEALTHCHECK")?.args as string)
        ?.[1] as string;
      const health = spawnSync("sh", ["-c", check], { env, encoding: "utf8", timeout: 10_000 });
      assert.equal(health.status, 0, `HEALTHCHECK ${check}: ${health.stderr}`);
      const home = await get(`http://127.0.0.1:${port}/`);
      assert.match(home.body, /Hello from Hono/, "the app's package serves");
      const workers = [...stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
      process.kill(child.pid as number, "SIGTERM");
      assert.equal(await exited, 0, stderr);
      await waitFor("the workers to exit", () => workers.every((pid) => !alive(pid)), 5000);
    },
  );
});
