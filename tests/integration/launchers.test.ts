/**
 * The launcher matrix: the scenarios that define corral, under every way a
 * user starts it (tests/_helpers/launchers.ts). One corral per launcher runs
 * them in sequence, from an app folder of its own (an app that imports a
 * package from its node_modules, and a corral.config.ts), over TLS; a
 * second one serves an app written for Deno.
 * `deno test` runs `deno run cli.ts` and `deno run from a URL`; `bun test`
 * runs `bun cli.ts` and the Bun binary; CORRAL_TEST_LAUNCHERS=all runs all four.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { alive, Corral, freePort, ROOT, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get, h2get } from "../_helpers/http.ts";
import {
  type Launcher,
  launcherSkip,
  launchersOfThisRuntime,
  prepareLauncher,
} from "../_helpers/launchers.ts";

const scratch = mkdtempSync(join(tmpdir(), "corral-launchers-"));
const closing: (() => void)[] = [];
after(async () => {
  await stopAll();
  for (const close of closing) close();
  rmSync(scratch, { recursive: true, force: true });
});

const CERT = join(ROOT, "tests", "fixtures", "tls", "cert.pem");
const KEY = join(ROOT, "tests", "fixtures", "tls", "key.pem");
/** corral.config.ts's --timeout, in ms: an idle worker is watched for more than twice that. */
const TIMEOUT_MS = 1000;
const T = { timeout: 60_000 };

/** `dir` with LogTape in its node_modules, as `npm install` leaves a package (a copy of corral's own). */
function withLogTape(dir: string): string {
  const to = join(dir, "node_modules", "@logtape", "logtape");
  mkdirSync(to, { recursive: true });
  cpSync(join(ROOT, "node_modules", "@logtape", "logtape"), to, { recursive: true });
  return dir;
}

/** An app folder as a deployment leaves it: app.ts, package.json, node_modules, and a corral.config.ts. */
function appFolder(name: string): string {
  const dir = withLogTape(join(scratch, name.replace(/\W+/g, "-")));
  copyFileSync(join(ROOT, "tests", "apps", "launcher_app.ts"), join(dir, "app.ts"));
  copyFileSync(join(ROOT, "tests", "apps", "launcher_config.ts"), join(dir, "corral.config.ts"));
  const pkg = {
    name: "launcher-app",
    private: true,
    type: "module",
    dependencies: { "@logtape/logtape": "2.4.2" },
  };
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
  return dir;
}

/**
 * An app written for Deno (tests/apps/deno_app: a deno.jsonc with imports,
 * npm: specifiers), its package in node_modules.
 */
function denoAppFolder(name: string): string {
  const dir = join(scratch, `deno-app-${name.replace(/\W+/g, "-")}`);
  cpSync(join(ROOT, "tests", "apps", "deno_app"), dir, { recursive: true });
  return withLogTape(dir);
}

/** Runs `corral ctl ARGS` with the launcher; resolves with its exit code and output. */
function ctl(launcher: Launcher, cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, ...rest] = launcher.command;
  const child = spawn(cmd as string, [...rest, "ctl", ...args], {
    cwd,
    env: { ...process.env, ...launcher.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => out += d);
  child.stderr?.setEncoding("utf8").on("data", (d: string) => out += d);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    })
  );
}

for (const name of launchersOfThisRuntime()) {
  const skip = launcherSkip(name);
  // Deno's node:test reports a skipped test without its reason: say it here too.
  if (skip) console.error(`SKIP launcher "${name}": ${skip}`);
  describe(`launcher: ${name} (run by ${RUNTIME} test)`, { skip: skip ?? false }, () => {
    const s = {} as {
      launcher: Launcher;
      dir: string;
      c: Corral;
      port: number;
      metrics: string;
      socket: string;
      workers: number[];
      /** Requests the workers answered, and when the last one ended. */
      served: number;
      lastServed: number;
      /** Why corral did not start: every step fails at once with it. */
      notStarted?: string;
    };
    /** A scenario, named with the launcher. */
    const step = (title: string, fn: () => Promise<void>) =>
      test(`${name}: ${title}`, T, async () => {
        if (s.notStarted) throw new Error(`${name}: corral did not start: ${s.notStarted}`);
        await fn();
      });
    const fetchJson = async (path = "/") => {
      const reply = await get(`https://127.0.0.1:${s.port}${path}`);
      assert.equal(reply.status, 200, `${name}: GET ${path}: ${reply.body}`);
      s.served++;
      s.lastServed = Date.now();
      return JSON.parse(reply.body) as { pid: number; package: string; logger: string };
    };

    before(async () => {
      try {
        s.launcher = await prepareLauncher(name, scratch);
        closing.push(() => s.launcher.close());
        s.dir = appFolder(name);
        s.port = await freePort();
        const metricsPort = await freePort();
        s.metrics = `http://127.0.0.1:${metricsPort}`;
        s.socket = join(s.dir, "control.sock");
        s.served = 0;
        s.c = new Corral([
          "-b",
          `127.0.0.1:${s.port}`,
          "--certfile",
          CERT,
          "--keyfile",
          KEY,
          "--metrics-bind",
          `127.0.0.1:${metricsPort}`,
          "--control-socket",
          s.socket,
          "app.ts",
        ], { command: s.launcher.command, env: s.launcher.env, cwd: s.dir });
        // From a URL the first start downloads corral's modules.
        await s.c.ready(45_000);
        s.workers = s.c.workerPids();
      } catch (err) {
        s.notStarted = (err as Error).message;
        throw new Error(`${name}: ${s.notStarted}`, { cause: err });
      }
    }, { timeout: 120_000 });

    step(
      "serves on 2 workers started the same way, as set by the app folder's corral.config.ts",
      async () => {
        assert.equal(s.workers.length, 2, s.c.stderr);
        for (const pid of s.workers) {
          assert.ok(
            s.launcher.isOwnWorker(pid),
            `${name}: worker ${pid} was not started by the same launcher`,
          );
          await s.c.waitForLog(new RegExp(`launcher hook: postWorkerInit in ${pid}\\n`));
        }
        const seen = new Set<number>();
        for (let i = 0; i < 200 && seen.size < 2; i++) {
          const { pid } = await fetchJson();
          assert.ok(s.workers.includes(pid), `${name}: answered by ${pid}, a replacement:\n${s.c.stderr}`);
          seen.add(pid);
        }
        assert.equal(seen.size, 2, `${name}: both workers answer`);
      },
    );

    step("the app imports a package from its own node_modules", async () => {
      const body = await fetchJson();
      const own = pathToFileURL(join(s.dir, "node_modules", "@logtape", "logtape")).href + "/";
      assert.ok(body.package.startsWith(own), `${name}: the package came from ${body.package}, not ${own}`);
      assert.equal(body.logger, "function");
    });

    step("TLS, with HTTP/2 offered through ALPN and HTTP/1.1 still served", async () => {
      const reply = await h2get(s.port);
      s.served++;
      s.lastServed = Date.now();
      assert.equal(reply.status, 200, `${name}: ${reply.body}`);
      assert.equal(reply.alpn, "h2");
      assert.ok(s.workers.includes(JSON.parse(reply.body).pid));
      await fetchJson(); // HTTP/1.1: the get() helper's
    });

    step("/metrics counts every request, with each worker's RSS and heap", async () => {
      const metrics = () => get(`${s.metrics}/metrics`).then((r) => r.body);
      await waitFor(
        `${name}: corral_requests_total{status="2xx"} ${s.served}`,
        async () =>
          new RegExp(`corral_requests_total\\{status="2xx"\\} ${s.served}\\n`).test(await metrics()),
      );
      const text = await metrics();
      for (const pid of s.workers) {
        for (const gauge of ["corral_worker_rss_bytes", "corral_worker_heap_used_bytes"]) {
          const value = new RegExp(`${gauge}\\{pid="${pid}",age="\\d+"\\} (\\d+)`).exec(text)?.[1];
          assert.ok(Number(value) > 0, `${name}: ${gauge} of ${pid} is ${value}:\n${text}`);
        }
      }
    });

    step("corral ctl status lists both workers with their requests and memory", async () => {
      // A worker's own count is stamped by its main loop every 250 ms: wait for the last one.
      await waitFor(`${name}: the workers' counts to add up to ${s.served}`, async () => {
        const status = JSON.parse((await get(`${s.metrics}/status.json`)).body) as {
          workers: { requests: number }[];
        };
        return status.workers.reduce((sum, w) => sum + w.requests, 0) === s.served;
      });
      const { code, out } = await ctl(s.launcher, s.dir, ["--socket", s.socket, "status"]);
      assert.equal(code, 0, `${name}: ${out}`);
      assert.match(out, new RegExp(`master pid ${s.c.pid}, 2 workers \\(target 2\\), ${s.served} requests`));
      let sum = 0;
      for (const pid of s.workers) {
        const row = new RegExp(
          `^${pid}\\s+\\d+\\s+serving\\s+\\d+s\\s+(\\d+)\\s+\\S+\\s+0\\s+([\\d.]+) MB$`,
          "m",
        )
          .exec(out);
        assert.ok(row, `${name}: no row for worker ${pid} in:\n${out}`);
        sum += Number(row[1]);
        assert.ok(Number(row[2]) > 0, `${name}: worker ${pid}'s RSS is ${row[2]} MB`);
      }
      assert.equal(sum, s.served);
    });

    step(
      "a worker idle for more than 2x --timeout is kept, its heartbeats coming from their thread",
      async () => {
        // Nothing to wait on: the point is that nothing happens meanwhile.
        const idleUntil = s.lastServed + 2 * TIMEOUT_MS + 500;
        await new Promise((r) => setTimeout(r, Math.max(0, idleUntil - Date.now())));
        assert.doesNotMatch(s.c.stderr, /WORKER TIMEOUT/, `${name}: an idle worker was killed as hung`);
        assert.doesNotMatch(
          s.c.stderr,
          /Heartbeat thread of worker \d+ failed/,
          `${name}: the thread failed`,
        );
        assert.deepEqual(s.c.workerPids(), s.workers, `${name}: no worker was replaced`);
        for (const pid of s.workers) assert.ok(alive(pid), `${name}: worker ${pid} is gone`);
      },
    );

    step("HUP replaces both workers, and the new ones serve", async () => {
      s.c.kill("SIGHUP");
      await s.c.waitForLog(/Reloaded: 2 new workers serving/, 30_000);
      const fresh = s.c.workerPids().filter((pid) => !s.workers.includes(pid));
      assert.equal(fresh.length, 2, s.c.stderr);
      await waitFor(`${name}: the old workers to exit`, () => s.workers.every((pid) => !alive(pid)), 10_000);
      assert.ok(fresh.includes((await fetchJson()).pid));
      s.workers = fresh;
    });

    step("TERM lets a request in flight finish, then exits 0 with its workers", async () => {
      const slow = get(`https://127.0.0.1:${s.port}/slow?ms=1500`);
      await s.c.waitForLog(/slow request started in \d+/);
      s.c.kill("SIGTERM");
      const reply = await slow;
      assert.equal(reply.status, 200, `${name}: the request in flight got ${reply.status}`);
      assert.equal((await s.c.exit()).code, 0, s.c.stderr);
      await waitFor(`${name}: the workers to exit`, () => s.workers.every((pid) => !alive(pid)), 5000);
    });

    step("an app written for Deno: its deno.jsonc's imports and npm: specifiers", async () => {
      const dir = denoAppFolder(name);
      const port = await freePort();
      const command = s.launcher.withDenoConfig(join(dir, "deno.jsonc"));
      const c = new Corral(["-w", "1", "-b", `127.0.0.1:${port}`, "app.ts"], {
        command,
        env: s.launcher.env,
        cwd: dir,
      });
      await c.ready(30_000);
      const reply = await get(`http://127.0.0.1:${port}/`);
      assert.equal(reply.status, 200, `${name}: ${reply.body}\n${c.stderr}`);
      assert.deepEqual(JSON.parse(reply.body), {
        greeting: "hello from a Deno app",
        logtape: ["function", "function"],
        // Each module keeps its own import.meta.url, bundled or not.
        app: pathToFileURL(join(dir, "app.ts")).href,
        module: pathToFileURL(join(dir, "src", "greeting.ts")).href,
      });
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0, c.stderr);
    });
  });
}
