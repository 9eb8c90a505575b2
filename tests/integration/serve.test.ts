/** The CLI serving real requests on real ports, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { alive, Corral, freePort, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 30_000 };

describe(`serving (${RUNTIME})`, () => {
  test("two workers share the port and the kernel spreads connections over both pids", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const workers = c.workerPids();
    assert.equal(workers.length, 2);
    const seen = new Set<number>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      seen.add(Number((await get(`http://127.0.0.1:${port}/`)).body));
    }
    assert.deepEqual([...seen].sort(), [...workers].sort());
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test(
    "a handler that throws or rejects answers 500, logs the stack, and the worker keeps serving",
    T,
    async () => {
      const port = await freePort();
      const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
      await c.ready();
      const thrown = await get(`http://127.0.0.1:${port}/throw`);
      assert.equal(thrown.status, 500);
      assert.equal((await get(`http://127.0.0.1:${port}/reject`)).status, 500);
      await c.waitForLog(/boom from the app\n\s+at /);
      await c.waitForLog(/rejected by the app/);
      const ok = await get(`http://127.0.0.1:${port}/`);
      assert.equal(ok.status, 200);
      assert.deepEqual(c.workerPids(), [Number(ok.body)]);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test("info.remoteAddr carries the client's address", T, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const addr = JSON.parse((await get(`http://127.0.0.1:${port}/addr`)).body);
    assert.equal(addr.transport, "tcp");
    assert.equal(addr.hostname, "127.0.0.1");
    assert.ok(addr.port > 0);
    c.kill("SIGTERM");
    await c.exit();
  });

  test("a named export and a plain function are served", T, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts:plain"]);
    await c.ready();
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, "plain function");
    c.kill("SIGTERM");
    await c.exit();
  });

  test("--chdir resolves the app from that folder; IPv6 loopback binds", T, async () => {
    const port = await freePort("::1");
    const c = new Corral(["--chdir", "tests/apps", "-b", `[::1]:${port}`, "pid.ts"]);
    await c.ready();
    assert.match(c.stderr, new RegExp(`Listening at: http://\\[::1\\]:${port}`));
    assert.equal((await get(`http://[::1]:${port}/`)).status, 200);
    c.kill("SIGTERM");
    await c.exit();
  });

  test("mod.ts serve() starts the same master and workers from code", T, async () => {
    const port = await freePort();
    const c = new Corral([], { script: "tests/apps/programmatic.ts", env: { TEST_PORT: String(port) } });
    await c.ready();
    const reply = await get(`http://127.0.0.1:${port}/`);
    assert.match(reply.body, /^programmatic \d+$/);
    assert.ok(c.workerPids().includes(Number(reply.body.split(" ")[1])));
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("Deno: workers get the master's narrowed permissions, never a silent -A", {
    ...T,
    skip: RUNTIME !== "deno" && "Deno permissions only exist on Deno",
  }, async () => {
    const port = await freePort();
    const flags = [
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-run",
      "--allow-write=/tmp",
      "--allow-sys=cpus",
    ];
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"], { denoFlags: flags });
    await c.ready();
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    for (const pid of c.workerPids()) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      assert.ok(!argv.includes("-A") && !argv.includes("--allow-all"), argv.join(" "));
      assert.ok(argv.includes("--allow-net") && argv.includes("--unstable-net"), argv.join(" "));
      assert.ok(argv.some((a) => a.startsWith("--allow-write=") && a.includes("/corral-")), argv.join(" "));
    }
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("PORT and WEB_CONCURRENCY set the defaults", T, async () => {
    const port = await freePort("0.0.0.0");
    const c = new Corral(["tests/apps/pid.ts"], { env: { PORT: String(port), WEB_CONCURRENCY: "2" } });
    await c.ready();
    assert.match(c.stderr, new RegExp(`Listening at: http://0.0.0.0:${port}`));
    assert.equal(c.workerPids().length, 2);
    c.kill("SIGTERM");
    await c.exit();
  });
});

describe(`supervision (${RUNTIME})`, () => {
  test("a SIGKILLed worker is replaced within 1 s", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const [victim] = c.workerPids();
    const killedAt = Date.now();
    process.kill(victim as number, "SIGKILL");
    await waitFor("a replacement worker", () => c.workerPids().length === 3, 1000);
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed < 1000, `replaced after ${elapsed} ms`);
    await c.waitForLog(new RegExp(`Worker \\(pid:${victim}\\) was sent SIGKILL`));
    const replacement = c.workerPids()[2] as number;
    await waitFor(
      "the replacement to serve",
      async () => Number((await get(`http://127.0.0.1:${port}/`)).body) === replacement,
    );
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("SIGKILL of the master leaves no orphan: workers exit within 2 s", T, async () => {
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const workers = c.workerPids();
    c.kill("SIGKILL");
    await c.exited;
    await waitFor("workers to exit after the master died", () => workers.every((p) => !alive(p)), 2000);
  });

  test("TERM finishes the slow request in flight, then exits 0", T, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const started = Date.now();
    const slow = get(`http://127.0.0.1:${port}/slow?ms=1500`);
    await c.waitForLog(/slow request started/);
    c.kill("SIGTERM");
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started >= 1400);
    assert.equal((await c.exit()).code, 0);
    await assert.rejects(get(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 }));
    assert.ok(c.workerPids().every((p) => !alive(p)));
  });

  test("TERM kills a request still running after --graceful-timeout", T, async () => {
    const port = await freePort();
    const c = new Corral(["--graceful-timeout", "0.5", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
    await c.ready();
    const slow = get(`http://127.0.0.1:${port}/slow?ms=20000`).catch((e) => e);
    await c.waitForLog(/slow request started/);
    const t0 = Date.now();
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
    assert.ok(Date.now() - t0 < 5000);
    assert.ok((await slow) instanceof Error);
  });

  test("INT and QUIT stop at once", T, async () => {
    for (const sig of ["SIGINT", "SIGQUIT"] as const) {
      const port = await freePort();
      const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"]);
      await c.ready();
      get(`http://127.0.0.1:${port}/slow?ms=20000`).catch(() => {});
      await c.waitForLog(/slow request started/);
      const t0 = Date.now();
      c.kill(sig);
      assert.equal((await c.exit(5000)).code, 0);
      assert.ok(Date.now() - t0 < 3000, `${sig} took ${Date.now() - t0} ms`);
      await waitFor("workers gone", () => c.workerPids().every((p) => !alive(p)), 2000);
    }
  });
});
