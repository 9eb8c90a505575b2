/** Supervision: signals and settings of the master, on real processes. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  alive,
  Corral,
  DENO_WITHOUT_FFI,
  freePort,
  ROOT,
  runCorral,
  RUNTIME,
  stopAll,
  waitFor,
  ZERO_LOSS_SKIP,
} from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";
import { assertNoLoss, startLoad } from "../_helpers/load.ts";

after(stopAll);
const T = { timeout: 60_000 };
/** Zero-loss tests need the kernel to migrate queued connections (see docs/RELIABILITY.md). */
const ZERO_LOSS = { timeout: 60_000, skip: ZERO_LOSS_SKIP };
const APP = join(ROOT, "tests/apps/supervise.ts");

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern, "g"))].length;
}

describe(`HUP, TTIN, TTOU (${RUNTIME})`, () => {
  test("HUP replaces every worker without a failed request", ZERO_LOSS, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    const before = c.workerPids();
    const load = startLoad(`http://127.0.0.1:${port}/`);
    for (let i = 1; i <= 3; i++) {
      c.kill("SIGHUP");
      await waitFor(`reload ${i}`, () => count(c.stderr, /Reloaded: 2 new workers serving/) === i, 15_000);
    }
    const result = await load.stop();
    assertNoLoss(result);
    assert.ok(result.requests > 0);
    assert.ok(before.every((p) => !c.workerPids().slice(-2).includes(p)));
    // Each old worker drains (up to 1 s, Connection: close) before it stops.
    await waitFor(
      "every older generation gone",
      () => c.workerPids().slice(0, -2).every((p) => !alive(p)),
      10_000,
    );
    const now = c.workerPids().slice(-2);
    const seen = new Set<number>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      seen.add(Number((await get(`http://127.0.0.1:${port}/`)).body));
    }
    assert.deepEqual([...seen].sort(), now.sort(), "the newest generation serves");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("HUP with a broken app keeps the old workers serving and says why", T, async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-reload-"));
    const app = join(dir, "app.ts");
    copyFileSync(APP, app);
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, app]);
    await c.ready();
    const before = c.workerPids();
    writeFileSync(app, "export default { fetch( { return };\n");
    c.kill("SIGHUP");
    await c.waitForLog(
      /Reload failed: Cannot load app ".*app.ts": SyntaxError.*; the old workers keep serving/,
    );
    assert.ok(before.every(alive), "old workers still running");
    const reply = await get(`http://127.0.0.1:${port}/`);
    assert.ok(before.includes(Number(reply.body)), "an old worker answered");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("TTIN adds a worker, TTOU removes one, never below 1", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "1", "--log-level", "debug", "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    c.kill("SIGTTIN");
    await c.waitForLog(/Number of workers: 2 \(was 1\)/);
    await waitFor("a second worker", () => c.workerPids().length === 2);
    await c.waitForLog(new RegExp(`Worker \\(pid:${c.workerPids()[1]}\\) is ready`));
    c.kill("SIGTTOU");
    await c.waitForLog(/Number of workers: 1 \(was 2\)/);
    const [first, second] = c.workerPids();
    await waitFor("the older worker to stop", () => !alive(first as number), 5000);
    assert.ok(alive(second as number));
    c.kill("SIGTTOU");
    await c.waitForLog(/Handling signal: ttou[\s\S]*Handling signal: ttou/);
    assert.doesNotMatch(c.stderr, /Number of workers: 0/);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, String(second));
    c.kill("SIGTERM");
    await c.exit();
  });

  test("USR1 reaches the workers without stopping them; WINCH is ignored", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    c.kill("SIGUSR1");
    c.kill("SIGWINCH");
    await c.waitForLog(/Handling signal: usr1/);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    assert.ok(c.workerPids().every(alive));
    assert.equal(c.workerPids().length, 2);
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});

describe(`recycling and hang detection (${RUNTIME})`, () => {
  test(
    "--max-requests recycles workers with their replacement first, losing nothing",
    ZERO_LOSS,
    async () => {
      const port = await freePort();
      const c = new Corral([
        "-w",
        "2",
        "--max-requests",
        "30",
        "--max-requests-jitter",
        "10",
        "-b",
        `127.0.0.1:${port}`,
        APP,
      ]);
      await c.ready();
      const load = startLoad(`http://127.0.0.1:${port}/`, 4);
      await waitFor("three recyclings", () => count(c.stderr, /--max-requests\): recycling/) >= 3, 30_000);
      const result = await load.stop();
      assertNoLoss(result);
      await waitFor("three replacements", () => c.workerPids().length >= 5);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  /** Blocks the worker's loop with a request; the master must kill it and name that request. */
  async function killsTheStuckWorker(c: Corral, port: number): Promise<void> {
    const [stuck] = c.workerPids();
    const spin = get(`http://127.0.0.1:${port}/spin?ms=20000`).catch((e) => e);
    await c.waitForLog(
      new RegExp(
        `WORKER TIMEOUT \\(pid:${stuck}\\): its event loop has been blocked for [\\d.]+ s; in flight: GET http://127.0.0.1:${port}/spin\\?ms=20000 \\([\\d.]+ s\\)`,
      ),
    );
    assert.match(c.stderr, /\[CRITICAL\] WORKER TIMEOUT/);
    assert.ok((await spin) instanceof Error, "the stuck request failed");
    await waitFor("a replacement", () => c.workerPids().length === 2);
    await waitFor(
      "the replacement to serve",
      async () => (await get(`http://127.0.0.1:${port}/`)).status === 200,
    );
    assert.ok(!alive(stuck as number));
    c.kill("SIGTERM");
    await c.exit();
  }

  test("--timeout kills a worker whose event loop is stuck and names the request in flight", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "1", "--timeout", "1", "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    // The master reads the watchdog from a file the worker maps: no heartbeat thread in the worker.
    const [pid] = c.workerPids();
    assert.match(readFileSync(`/proc/${pid}/maps`, "utf8"), /\/corral-[^/\n]+\/watchdog-1\n/);
    await killsTheStuckWorker(c, port);
  });

  test("Deno without --allow-ffi: the heartbeat thread names the stuck request instead", {
    ...T,
    skip: RUNTIME !== "deno" && "Deno permissions only exist on Deno",
  }, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "1", "--timeout", "1", "-b", `127.0.0.1:${port}`, APP], {
      denoFlags: [...DENO_WITHOUT_FFI],
    });
    await c.ready();
    const [pid] = c.workerPids();
    assert.doesNotMatch(readFileSync(`/proc/${pid}/maps`, "utf8"), /\/watchdog-1\n/);
    await killsTheStuckWorker(c, port);
  });

  test("a slow async request is not a hang: --timeout leaves the worker alone", T, async () => {
    const port = await freePort();
    const c = new Corral(["--timeout", "1", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    assert.equal((await get(`http://127.0.0.1:${port}/slow?ms=2500`)).status, 200);
    assert.doesNotMatch(c.stderr, /WORKER TIMEOUT/);
    c.kill("SIGTERM");
    await c.exit();
  });

  test("--max-worker-memory recycles a worker that grows past it", T, async () => {
    const port = await freePort();
    const c = new Corral(["--max-worker-memory", "300", "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    const [big] = c.workerPids();
    assert.equal((await get(`http://127.0.0.1:${port}/grow?mb=400`)).status, 200);
    await c.waitForLog(
      new RegExp(`Worker \\(pid:${big}\\) uses \\d+ MB, over --max-worker-memory 300: recycling`),
    );
    await waitFor("the big worker to stop", () => !alive(big as number), 10_000);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    c.kill("SIGTERM");
    await c.exit();
  });

  test(
    "a worker that keeps crashing after boot is respawned with back-off, logged once per burst",
    T,
    async () => {
      const port = await freePort();
      const c = new Corral(["-w", "1", "-b", `127.0.0.1:${port}`, APP], { env: { CRASH_AFTER_MS: "100" } });
      await c.ready();
      await c.waitForLog(/\(4 in a row\); next try in 800 ms/, 20_000);
      const spawns = c.workerPids().length;
      assert.ok(spawns >= 4 && spawns <= 6, `${spawns} spawns`);
      assert.equal(count(c.stderr, /in a row\)/), 3, "lines for failures 1, 2 and 4 only");
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );
});

describe(`pid file (${RUNTIME})`, () => {
  test("-p writes the master's pid, refuses a live holder, and is removed at exit", T, async () => {
    const pidfile = join(mkdtempSync(join(tmpdir(), "corral-pid-")), "corral.pid");
    const port = await freePort();
    const c = new Corral(["-p", pidfile, "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    assert.equal(readFileSync(pidfile, "utf8").trim(), String(c.pid));
    const second = await runCorral(["--pid", pidfile, "-b", `127.0.0.1:${await freePort()}`, APP], 10_000);
    assert.equal(second.code, 3);
    assert.match(
      second.stderr,
      new RegExp(`Cannot write --pid "${pidfile}": it holds pid ${c.pid}, which is running`),
    );
    c.kill("SIGTERM");
    await c.exit();
    assert.ok(!existsSync(pidfile));
  });

  test("a stale pid file is taken over", T, async () => {
    const pidfile = join(mkdtempSync(join(tmpdir(), "corral-pid-")), "corral.pid");
    writeFileSync(pidfile, "999999\n");
    const port = await freePort();
    const c = new Corral(["-p", pidfile, "-b", `127.0.0.1:${port}`, APP]);
    await c.ready();
    assert.equal(readFileSync(pidfile, "utf8").trim(), String(c.pid));
    c.kill("SIGTERM");
    await c.exit();
  });
});

describe(`USR2 upgrade in place (${RUNTIME})`, () => {
  test(
    "a new master takes over the port beside the old one, which then drains and exits 0",
    ZERO_LOSS,
    async () => {
      const port = await freePort();
      const pidfile = join(mkdtempSync(join(tmpdir(), "corral-pid-")), "corral.pid");
      const c = new Corral(["-w", "2", "-p", pidfile, "-b", `127.0.0.1:${port}`, APP]);
      await c.ready();
      const oldWorkers = c.workerPids();
      const load = startLoad(`http://127.0.0.1:${port}/`);
      c.kill("SIGUSR2");
      await c.waitForLog(/Upgrade: started a new master with pid (\d+)/);
      const newMaster = Number(/Upgrade: started a new master with pid (\d+)/.exec(c.stderr)?.[1]);
      // The new master is no child of this test: stop it whatever happens below.
      try {
        await c.waitForLog(/Upgrade: serving; asking the old master \(pid \d+\) to drain/, 20_000);
        assert.equal((await c.exit(20_000)).code, 0, "the old master drained and exited 0");
        const result = await load.stop();
        assert.ok(alive(newMaster), "the new master runs on");
        assert.equal(readFileSync(pidfile, "utf8").trim(), String(newMaster));
        const reply = await get(`http://127.0.0.1:${port}/`);
        assert.ok(!oldWorkers.includes(Number(reply.body)), "a new worker answers");
        assertNoLoss(result);
        process.kill(newMaster, "SIGTERM");
        await waitFor("the new master to stop", () => !alive(newMaster), 10_000);
      } finally {
        if (alive(newMaster)) process.kill(newMaster, "SIGKILL");
      }
      assert.ok(!existsSync(pidfile));
    },
  );

  test("an upgrade whose new master cannot start leaves the old one serving", T, async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-usr2-"));
    const app = join(dir, "app.ts");
    copyFileSync(APP, app);
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, app]);
    await c.ready();
    writeFileSync(app, "export const nothing = 1;\n");
    c.kill("SIGUSR2");
    await c.waitForLog(
      /Upgrade failed: the new master \(pid \d+\) exited with code 4; this master keeps serving/,
      20_000,
    );
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});

describe(`hooks from mod.ts serve() (${RUNTIME})`, () => {
  test(
    "each hook runs at its point; a throwing hook is logged by name and the master goes on",
    T,
    async () => {
      const port = await freePort();
      const c = new Corral([], { script: "tests/apps/hooks.ts", env: { TEST_PORT: String(port) } });
      await c.ready();
      await c.waitForLog(/hook whenReady/);
      const [worker] = c.workerPids();
      process.kill(worker as number, "SIGKILL");
      await c.waitForLog(new RegExp(`hook childExit pid=${worker} signal=SIGKILL`));
      c.kill("SIGTTIN");
      await c.waitForLog(/hook nworkersChanged 2 1/);
      c.kill("SIGHUP");
      await c.waitForLog(/hook onReload/);
      await c.waitForLog(/Reloaded: 2 new workers serving/);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
      for (const name of ["onStarting", "preFork age=1", "postWorkerInit", "workerExit", "onExit"]) {
        assert.match(c.stderr, new RegExp(`hook ${name}`));
      }
      assert.match(c.stderr, /Hook onStarting failed: thrown on purpose/);
    },
  );
});
