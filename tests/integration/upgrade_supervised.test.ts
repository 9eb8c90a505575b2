/**
 * USR2 under a supervisor: with systemd's sockets the new master serves the
 * same sockets; a master that is PID 1 (a container's init) refuses, since
 * the container would end with it.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { alive, Corral, freePort, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";
import { assertNoLoss, startLoad } from "../_helpers/load.ts";

after(stopAll);
const T = { timeout: 60_000 };
const activate = spawnSync("systemd-socket-activate", ["--version"]).status === 0;
const unshare = process.getuid?.() === 0 && spawnSync("unshare", ["--version"]).status === 0;
if (!activate) console.warn("SKIP USR2 under socket activation: systemd-socket-activate is not installed");
if (!unshare) console.warn("SKIP USR2 as PID 1: needs root and unshare(1)");

describe(`USR2 under a supervisor (${RUNTIME})`, () => {
  test("under socket activation the new master serves systemd's socket; no request is lost", {
    ...T,
    skip: !activate,
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const c = new Corral(["-w", "2", "tests/apps/pid.ts"], {
      wrap: ["systemd-socket-activate", "-l", `127.0.0.1:${port}`],
    });
    await waitFor("the socket", () => /as 3/.test(c.stderr));
    await get(url, { timeoutMs: 20_000 });
    await c.ready();
    const load = startLoad(url, 4);
    c.kill("SIGUSR2");
    await c.waitForLog(/Upgrade: started a new master with pid (\d+)/);
    const newMaster = Number(/Upgrade: started a new master with pid (\d+)/.exec(c.stderr)?.[1]);
    try {
      assert.equal((await c.exit(30_000)).code, 0, "the old master drained and exited");
      const result = await load.stop();
      assertNoLoss(result);
      assert.match(
        c.stderr,
        new RegExp(
          `\\[${newMaster}\\] \\[INFO\\] Listening at: http://127.0.0.1:${port} \\(systemd's socket, fd 3\\)`,
        ),
      );
      assert.equal((await get(url)).status, 200, "the new master serves the socket");
      process.kill(newMaster, "SIGTERM");
      await waitFor("the new master to exit", () => !alive(newMaster), 15_000);
    } finally {
      if (alive(newMaster)) process.kill(newMaster, "SIGKILL");
    }
  });

  test("a master that is PID 1 ignores USR2 and says why", { ...T, skip: !unshare }, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"], {
      wrap: ["unshare", "--pid", "--fork", "--kill-child"],
    });
    await c.ready();
    assert.match(c.stderr, /\[1\] \[INFO\] Ready/, "the master is PID 1 in its namespace");
    // unshare's child is the master: signal it through its pid outside the namespace.
    const master = Number(
      spawnSync("pgrep", ["-P", String(c.pid)], { encoding: "utf8" }).stdout.trim().split("\n")[0],
    );
    process.kill(master, "SIGUSR2");
    await c.waitForLog(/USR2 ignored: this master is PID 1/);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    process.kill(master, "SIGTERM");
    await c.exit();
  });
});
