/** HTTPS and unix sockets, on real sockets. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Corral, freePort, runCorral, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";
import { assertNoLoss, startLoad } from "../_helpers/load.ts";

after(stopAll);
const T = { timeout: 30_000 };

function tempPath(name: string): string {
  return join(mkdtempSync(join(tmpdir(), "corral-test-")), name);
}

/** Leaves a socket file behind with no server: what a SIGKILLed server leaves. */
function staleSocket(path: string): void {
  execFileSync("python3", [
    "-c",
    `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`,
  ]);
  assert.ok(existsSync(path));
}

describe(`HTTPS (${RUNTIME})`, () => {
  test("--certfile and --keyfile serve HTTPS on every worker", T, async () => {
    const port = await freePort();
    const c = new Corral([
      "-w",
      "2",
      "--certfile",
      "tests/fixtures/tls/cert.pem",
      "--keyfile",
      "tests/fixtures/tls/key.pem",
      "-b",
      `127.0.0.1:${port}`,
      "tests/apps/pid.ts",
    ]);
    await c.ready();
    assert.match(c.stderr, new RegExp(`Listening at: https://127.0.0.1:${port}`));
    const reply = await get(`https://127.0.0.1:${port}/`);
    assert.equal(reply.status, 200);
    assert.ok(c.workerPids().includes(Number(reply.body)));
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("~ in --certfile is expanded", T, async () => {
    const port = await freePort();
    const home = mkdtempSync(join(tmpdir(), "corral-home-"));
    writeFileSync(join(home, "cert.pem"), execFileSync("cat", ["tests/fixtures/tls/cert.pem"]));
    const c = new Corral(
      [
        "--certfile",
        "~/cert.pem",
        "--keyfile",
        "tests/fixtures/tls/key.pem",
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/pid.ts",
      ],
      { env: { HOME: home } },
    );
    await c.ready();
    assert.equal((await get(`https://127.0.0.1:${port}/`)).status, 200);
    c.kill("SIGTERM");
    await c.exit();
  });
});

describe(`unix sockets (${RUNTIME})`, () => {
  for (const workers of [1, 2]) {
    test(
      `-w ${workers}: serves on unix:PATH, removes a stale socket at start and the socket at exit`,
      T,
      async () => {
        const path = tempPath("app.sock");
        staleSocket(path);
        const c = new Corral(["-w", String(workers), "-b", `unix:${path}`, "tests/apps/pid.ts"]);
        await c.ready();
        assert.match(c.stderr, new RegExp(`Listening at: unix:${path}`));
        const seen = new Set<number>();
        for (let i = 0; i < 200 && seen.size < workers; i++) {
          const reply = await get("http://localhost/", { socketPath: path });
          assert.equal(reply.status, 200);
          seen.add(Number(reply.body));
        }
        assert.deepEqual([...seen].sort(), c.workerPids().sort(), "every worker serves the socket");
        c.kill("SIGTERM");
        assert.equal((await c.exit()).code, 0);
        assert.ok(!existsSync(path), "socket removed at exit");
      },
    );
  }

  test("-w 2: the app sees a relayed client as a unix socket peer, as with -w 1", T, async () => {
    const path = tempPath("peer.sock");
    const c = new Corral(["-w", "2", "-b", `unix:${path}`, "tests/apps/pid.ts"]);
    await c.ready();
    const reply = await get("http://localhost/addr", { socketPath: path });
    assert.equal(JSON.parse(reply.body).transport, "unix");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test(
    "-w 2: a worker told to stop gets no new connection, and its requests in flight complete",
    T,
    async () => {
      const path = tempPath("drain.sock");
      const c = new Corral(["-w", "2", "-b", `unix:${path}`, "tests/apps/pid.ts"]);
      await c.ready();
      const [oldest, other] = c.workerPids();
      // Four slow requests, spread over both workers (the relay picks the least busy).
      const slow = Array.from(
        { length: 4 },
        () => get("http://localhost/slow?ms=2500", { socketPath: path }),
      );
      await waitFor("four slow requests", () => c.stderr.split("slow request started").length - 1 === 4);
      c.kill("SIGTTOU");
      await c.waitForLog(/Number of workers: 1 \(was 2\)/);
      for (let i = 0; i < 20; i++) {
        const reply = await get("http://localhost/", { socketPath: path });
        assert.equal(reply.body, String(other), `request ${i} went to the stopping worker ${oldest}`);
      }
      const answers = (await Promise.all(slow)).map((r) => `${r.status} ${r.body}`).sort();
      assert.deepEqual(answers, [`200 ${oldest}`, `200 ${oldest}`, `200 ${other}`, `200 ${other}`].sort());
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test(
    "-w 2: HUP replaces both workers behind the relay without a failed request",
    { timeout: 60_000 },
    async () => {
      const path = tempPath("reload.sock");
      const c = new Corral(["-w", "2", "-b", `unix:${path}`, "tests/apps/pid.ts"]);
      await c.ready();
      const before = c.workerPids();
      const load = startLoad("http://localhost/", 4, 45_000, path);
      for (let i = 1; i <= 2; i++) {
        await waitFor("requests before the HUP", () => load.result.requests > 20 * i);
        c.kill("SIGHUP");
        await waitFor(
          `reload ${i}`,
          () => c.stderr.split("Reloaded: 2 new workers serving").length - 1 === i,
          30_000,
        );
      }
      const after = c.workerPids().slice(-2).map(String);
      assert.ok(before.every((pid) => !after.includes(String(pid))));
      await waitFor("the new workers serving", () => after.every((pid) => load.result.pids.has(pid)));
      assertNoLoss(await load.stop());
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test(
    "-w 1: HUP and a recycled worker hand the socket over without a failed request; TTIN is refused, saying why",
    { timeout: 60_000 },
    async () => {
      const path = tempPath("single.sock");
      const c = new Corral(["-w", "1", "-b", `unix:${path}`, "--max-requests", "400", "tests/apps/pid.ts"]);
      await c.ready();
      const load = startLoad("http://localhost/", 4, 45_000, path);
      for (let i = 1; i <= 3; i++) {
        await waitFor("requests before the HUP", () => load.result.requests > 50 * i);
        c.kill("SIGHUP");
        await waitFor(
          `reload ${i}`,
          () => c.stderr.split("Reloaded: 1 new worker serving").length - 1 === i,
          30_000,
        );
      }
      await waitFor(
        "a worker recycled by --max-requests",
        () => c.stderr.includes("(--max-requests): recycling"),
      );
      c.kill("SIGTTIN");
      await c.waitForLog(/Keeping 1 worker: unix:.*single\.sock was bound with -w 1/);
      const pids = c.workerPids();
      await waitFor("the newest worker serving", () => load.result.pids.has(String(pids.at(-1))), 20_000);
      assertNoLoss(await load.stop());
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
      assert.ok(!existsSync(path), "the link removed at exit");
      const { readdirSync } = await import("node:fs");
      const { dirname } = await import("node:path");
      assert.deepEqual(
        readdirSync(dirname(path)).filter((n) => n.startsWith("single.sock")),
        [],
        "no socket left",
      );
    },
  );

  test("a unix socket with a live server is refused", T, async () => {
    const path = tempPath("live.sock");
    const first = new Corral(["-b", `unix:${path}`, "tests/apps/pid.ts"]);
    await first.ready();
    const second = await runCorral(["-b", `unix:${path}`, "tests/apps/pid.ts"], 5000);
    assert.equal(second.code, 3);
    assert.match(second.stderr, new RegExp(`Cannot bind "unix:${path}": address already in use`));
    assert.equal(
      (await get("http://localhost/", { socketPath: path })).status,
      200,
      "the first keeps serving",
    );
    first.kill("SIGTERM");
    await first.exit();
  });

  test("TCP and unix together", T, async () => {
    const path = tempPath("both.sock");
    const port = await freePort();
    const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "-b", `unix:${path}`, "tests/apps/pid.ts"]);
    await c.ready();
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    assert.equal((await get("http://localhost/", { socketPath: path })).status, 200);
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});
