/**
 * --user, --group, --initgroups and --umask. The switch needs root: those
 * tests skip, saying so, when the suite does not run as root.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Corral, freePort, runCorral, RUNTIME, stopAll } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 60_000 };
const root = process.getuid?.() === 0;
const skip = root ? false : "not running as root: a switch of user needs it";
if (skip) console.warn(`SKIP --user tests: ${skip}`);
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function folder(mode = 0o755): string {
  const dir = mkdtempSync(join(tmpdir(), "corral-priv-"));
  chmodSync(dir, mode);
  dirs.push(dir);
  return dir;
}

/** A port below 1024 that is free, where only root (or a capability) may bind. */
async function privilegedPort(): Promise<number> {
  const start = Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"));
  for (let port = Math.min(start, 1024) - 1 - Math.floor(Math.random() * 200); port > 100; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port below 1024");
}

/** /proc/self/status of the process that answered, as the app tests/apps/whoami.ts reports it. */
async function whoami(url: string, socketPath?: string): Promise<Record<string, string>> {
  const reply = await get(url, socketPath ? { socketPath } : {});
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body);
}

describe(`-u/--user and -g/--group, as root (${RUNTIME})`, { skip }, () => {
  test("the app runs as nobody, a port below 1024 still binds, heartbeats and HUP go on", T, async () => {
    const port = await privilegedPort();
    const url = `http://127.0.0.1:${port}/`;
    const c = new Corral([
      "-w",
      "2",
      "-t",
      "1",
      "-b",
      `127.0.0.1:${port}`,
      "-u",
      "nobody",
      "tests/apps/whoami.ts",
    ]);
    await c.ready();
    const me = await whoami(url);
    assert.equal(me.uid, "65534 65534 65534 65534");
    assert.equal(me.gid, "65534 65534 65534 65534", "--user's own group");
    assert.equal(me.groups, "65534", "root's groups are dropped");
    // The heartbeat thread connects after the switch: without it, -t 1 kills the workers.
    await new Promise((r) => setTimeout(r, 2500));
    assert.doesNotMatch(c.stderr, /WORKER TIMEOUT/);
    c.kill("SIGHUP");
    await c.waitForLog(/Reloaded: 2 new workers serving/, 20_000);
    assert.equal((await whoami(url)).uid, "65534 65534 65534 65534");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("-g and --initgroups set the group and the groups", T, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const c = new Corral(["-b", `127.0.0.1:${port}`, "-u", "nobody", "-g", "0", "tests/apps/whoami.ts"]);
    await c.ready();
    const me = await whoami(url);
    assert.equal(me.gid, "0 0 0 0");
    assert.equal(me.groups, "0");
    c.kill("SIGTERM");
    await c.exit();
    const d = new Corral([
      "-b",
      `127.0.0.1:${port}`,
      "-u",
      "root",
      "-g",
      "nogroup",
      "--initgroups",
      "tests/apps/whoami.ts",
    ]);
    await d.ready();
    const groups = (await whoami(url)).groups?.split(" ").map(Number) ?? [];
    assert.equal(groups[0], 65534, "--group first");
    assert.ok(groups.length >= 1);
    d.kill("SIGTERM");
    await d.exit();
  });

  test("unix sockets and log files in root's folders are handed to the user", T, async () => {
    const dir = folder(0o755);
    for (const workers of ["1", "2"]) {
      const path = join(dir, `s${workers}.sock`);
      const access = join(dir, `access${workers}.log`);
      const c = new Corral([
        "-w",
        workers,
        "-b",
        `unix:${path}`,
        "--access-logfile",
        access,
        "-u",
        "nobody",
        "tests/apps/whoami.ts",
      ]);
      await c.ready();
      assert.equal((await whoami("http://localhost/", path)).uid, "65534 65534 65534 65534");
      assert.equal(statSync(path).uid, 65534, `-w ${workers}: the socket is the user's`);
      c.kill("SIGUSR1"); // the workers reopen the access log, as nobody
      await new Promise((r) => setTimeout(r, 700));
      await whoami("http://localhost/", path);
      c.kill("SIGTERM");
      await c.exit();
      assert.equal(readFileSync(access, "utf8").split("\n").filter(Boolean).length, 2, `-w ${workers}`);
    }
  });
});

describe(`--user refusals and --umask (${RUNTIME})`, () => {
  test("--user without root is refused before anything starts, exit 2", { ...T, skip: !root }, () => {
    const setpriv = spawnSync("setpriv", ["--version"]).status === 0;
    if (!setpriv) return;
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        ...(RUNTIME === "deno" ? ["run", "-A"] : []),
        "cli.ts",
        "-u",
        "root",
        "tests/apps/pid.ts",
      ],
      {
        encoding: "utf8",
        timeout: 20_000,
        env: { ...process.env, HOME: "/tmp", DENO_DIR: process.env.DENO_DIR ?? "" },
      },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /corral runs as uid 65534 and cannot switch its workers to uid 0.*only root can/);
  });

  test("--umask decides the mode of the pid file", T, async () => {
    const dir = folder(0o700);
    const pid = join(dir, "corral.pid");
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "-m", "0o077", "-p", pid, "tests/apps/pid.ts"]);
    await c.ready();
    assert.equal(statSync(pid).mode & 0o777, 0o600);
    c.kill("SIGTERM");
    await c.exit();
    const r = await runCorral(["-m", "0o1000", "tests/apps/pid.ts"], 5000);
    assert.equal(r.code, 2);
  });
});
