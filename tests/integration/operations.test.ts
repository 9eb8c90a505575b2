/** Operations: /metrics, the status page, the control socket and `corral ctl`, the workers' environment. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliCommand, Corral, freePort, ROOT, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 60_000 };

function ctl(...args: string[]) {
  const [cmd, ...rest] = cliCommand();
  return spawnSync(cmd as string, [...rest, "ctl", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 15_000,
  });
}

function socketPath(): string {
  return join(mkdtempSync(join(tmpdir(), "corral-ctl-")), "control.sock");
}

/** Two workers of tests/apps/pid.ts, with --metrics-bind on a port of its own. */
async function startWithMetrics(): Promise<{ c: Corral; port: number; metricsPort: number }> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const c = new Corral([
    "-w",
    "2",
    "--metrics-bind",
    `127.0.0.1:${metricsPort}`,
    "-b",
    `127.0.0.1:${port}`,
    "tests/apps/pid.ts",
  ]);
  await c.ready();
  return { c, port, metricsPort };
}

describe(`metrics and the status page (${RUNTIME})`, () => {
  test("/metrics aggregates the workers' heartbeats in Prometheus text", T, async () => {
    const { c, port, metricsPort } = await startWithMetrics();
    for (let i = 0; i < 17; i++) await get(`http://127.0.0.1:${port}/`);
    for (let i = 0; i < 3; i++) await get(`http://127.0.0.1:${port}/sized`);
    await get(`http://127.0.0.1:${port}/throw`);
    const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitFor(
      "the heartbeats to carry 21 requests",
      async () =>
        /corral_requests_total\{status="2xx"\} 20\n/.test((await get(metrics)).body) &&
        /corral_requests_total\{status="5xx"\} 1\n/.test((await get(metrics)).body),
    );
    const reply = await get(metrics);
    assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0.0.4/);
    const text = reply.body;
    assert.match(text, /# TYPE corral_request_duration_seconds histogram/);
    assert.match(text, /corral_request_duration_seconds_bucket\{le="\+Inf"\} 21\n/);
    assert.match(text, /corral_request_duration_seconds_count 21\n/);
    assert.match(text, /corral_workers\{state="serving"\} 2\n/);
    assert.match(text, /corral_in_flight_requests 0\n/);
    // Declared lengths only: three /sized responses of 5 bytes.
    assert.match(text, /corral_response_bytes_total 15\n/);
    for (const pid of c.workerPids()) {
      assert.match(text, new RegExp(`corral_worker_rss_bytes\\{pid="${pid}",age="\\d"\\} \\d+`));
    }
    process.kill(c.workerPids()[0] as number, "SIGKILL");
    await waitFor(
      "a crash restart counted",
      async () =>
        /corral_worker_restarts_total\{reason="(crash|boot_failure)"\} 1\n/.test((await get(metrics)).body),
    );
    const status = JSON.parse((await get(`http://127.0.0.1:${metricsPort}/status.json`)).body);
    assert.ok(status.requests >= 21, "totals keep the requests of the killed worker");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("the status page loads in headless Chromium without console errors and shows both workers", {
    ...T,
    skip: spawnSync("chromium", ["--version"]).status !== 0 &&
      "Debian's chromium is not installed (apt-get install chromium)",
  }, async () => {
    const { c, metricsPort } = await startWithMetrics();
    await waitFor(
      "a heartbeat",
      async () => /"requests":/.test((await get(`http://127.0.0.1:${metricsPort}/status.json`)).body),
    );
    const profile = mkdtempSync(join(tmpdir(), "corral-chromium-"));
    const out = spawnSync("chromium", [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--enable-logging=stderr",
      "--v=0",
      "--virtual-time-budget=4000",
      "--dump-dom",
      `http://127.0.0.1:${metricsPort}/`,
    ], { encoding: "utf8", timeout: 45_000 });
    assert.equal(out.status, 0, out.stderr);
    for (const pid of c.workerPids()) {
      assert.match(out.stdout, new RegExp(`<td>${pid}</td>`), "each worker has a row");
    }
    assert.match(out.stdout, /class="state serving"/);
    assert.match(out.stdout, /id="live" class="on"/);
    const consoleErrors = out.stderr.split("\n").filter((l) => /CONSOLE|Uncaught|SyntaxError/.test(l));
    assert.deepEqual(consoleErrors, []);
    c.kill("SIGTERM");
    await c.exit();
  });
});

describe(`--metrics-bind exposure (${RUNTIME})`, () => {
  const start = async (bind: (port: number) => string) => {
    const port = await freePort();
    const c = new Corral([
      "--metrics-bind",
      bind(port),
      "-b",
      `127.0.0.1:${await freePort()}`,
      "tests/apps/pid.ts",
    ]);
    await c.ready();
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
    return { stderr: c.stderr, port };
  };

  test("a bare :PORT is loopback, with no warning", T, async () => {
    const { stderr, port } = await start((p) => `:${p}`);
    assert.match(stderr, new RegExp(`Metrics at: http://127\\.0\\.0\\.1:${port}/metrics`));
    assert.doesNotMatch(stderr, /WARNING/);
  });

  test(
    "every interface (0.0.0.0) is served, with a warning naming the flag and what it exposes",
    T,
    async () => {
      const { stderr, port } = await start((p) => `0.0.0.0:${p}`);
      assert.match(
        stderr,
        new RegExp(
          `\\[WARNING\\] --metrics-bind http://0\\.0\\.0\\.0:${port} is not a loopback address: .*no authentication`,
        ),
      );
    },
  );
});

describe(`the control socket (${RUNTIME})`, () => {
  test(
    "corral ctl status, scale, reload and stop do what the signals do; the socket is 0600",
    T,
    async () => {
      const path = socketPath();
      const port = await freePort();
      const c = new Corral([
        "-w",
        "2",
        "--control-socket",
        path,
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/pid.ts",
      ]);
      await c.ready();
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const status = ctl("--socket", path, "status");
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`master pid ${c.pid}, 2 workers \\(target 2\\)`));
      for (const pid of c.workerPids()) {
        assert.match(
          status.stdout,
          new RegExp(`^${pid}\\s+\\d+\\s+serving`, "m"),
        );
      }
      assert.match(ctl("--socket", path, "scale", "3").stdout, /Scaling to 3 workers \(from 2\)/);
      await waitFor("a third worker", () => c.workerPids().length === 3);
      assert.match(ctl("--socket", path, "reload").stdout, /Reloading/);
      await c.waitForLog(/Reloaded: 3 new workers serving/);
      assert.match(ctl("--socket", path, "stop").stdout, /Stopping gracefully/);
      assert.equal((await c.exit()).code, 0);
      const gone = ctl("--socket", path, "status");
      assert.equal(gone.status, 1);
      assert.match(gone.stderr, /Cannot reach the control socket ".*control.sock": no such socket/);
    },
  );

  test("a stale socket and bad commands get clear errors", T, () => {
    const path = socketPath();
    spawnSync("python3", [
      "-c",
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`,
    ]);
    const stale = ctl("--socket", path, "status");
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /nothing answers there: a stale socket/);
    const bad = ctl("--socket", path, "scale", "zero");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Invalid value for scale: "zero"/);
    const missing = ctl("status");
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /Missing --socket PATH/);
  });
});

describe(`the workers' environment (${RUNTIME})`, () => {
  test("OTEL_DENO and other variables reach the workers", T, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/env.ts"], {
      env: { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" },
    });
    await c.ready();
    assert.equal((await get(`http://127.0.0.1:${port}/?name=OTEL_DENO`)).body, "true");
    assert.equal(
      (await get(`http://127.0.0.1:${port}/?name=OTEL_EXPORTER_OTLP_ENDPOINT`)).body,
      "http://127.0.0.1:1",
    );
    c.kill("SIGTERM");
    await c.exit();
  });

  test("-e/--env KEY=VALUE reaches every worker, over the master's own value", T, async () => {
    const port = await freePort();
    const c = new Corral(
      [
        "-w",
        "2",
        "-b",
        `127.0.0.1:${port}`,
        "-e",
        "CORRAL_T=from-flag",
        "--env",
        "CORRAL_U=a=b",
        "tests/apps/env.ts",
      ],
      { env: { CORRAL_T: "from-master" } },
    );
    await c.ready();
    for (let i = 0; i < 4; i++) {
      assert.equal((await get(`http://127.0.0.1:${port}/?name=CORRAL_T`)).body, "from-flag");
      assert.equal((await get(`http://127.0.0.1:${port}/?name=CORRAL_U`)).body, "a=b");
    }
    c.kill("SIGTERM");
    await c.exit();
  });
});
