/**
 * systemd socket activation: corral started by systemd-socket-activate (from
 * the systemd package; the tests skip, saying so, without it) serves the
 * sockets it passes, from every worker, and binds nothing of its own.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { cliCommand, Corral, freePort, IS_BUN, ROOT, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";
import { assertNoLoss, startLoad } from "../_helpers/load.ts";

after(stopAll);
const T = { timeout: 60_000 };
const ACTIVATE = "systemd-socket-activate";
const available = spawnSync(ACTIVATE, ["--version"]).status === 0;
const skip = available ? false : `${ACTIVATE} is not installed (apt-get install systemd)`;
if (skip) console.warn(`SKIP socket activation tests: ${skip}`);
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * corral under systemd-socket-activate, which listens on `listen` and
 * starts corral at the first connection: that first request also waits
 * for corral to serve it.
 */
async function activated(listen: string[], args: string[], first: () => Promise<unknown>) {
  const c = new Corral(args, { wrap: [ACTIVATE, ...listen.flatMap((l) => ["-l", l])] });
  await waitFor("systemd-socket-activate listening", () => /Listening on .* as 3/.test(c.stderr));
  const reply = await first();
  await c.ready();
  return { c, reply };
}

/** Whether something accepts connections at 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

describe(`systemd socket activation (${RUNTIME})`, { skip }, () => {
  test("every worker serves the passed socket, and --bind is not used", T, async () => {
    const [port, unused] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}/`;
    const { c, reply } = await activated(
      [`127.0.0.1:${port}`],
      ["-w", "2", "-b", `127.0.0.1:${unused}`, "tests/apps/pid.ts"],
      () => get(url, { timeoutMs: 20_000 }),
    );
    assert.equal((reply as { status: number }).status, 200);
    assert.match(c.stderr, new RegExp(`Listening at: http://127.0.0.1:${port} \\(systemd's socket, fd 3\\)`));
    assert.equal(await accepts(unused), false, "--bind is replaced by systemd's sockets");
    // One worker stopped, the other alone serves the shared socket: each serves it.
    const workers = c.workerPids();
    assert.equal(workers.length, 2);
    for (const [stopped, serving] of [workers, [...workers].reverse()] as [number, number][]) {
      process.kill(stopped, "SIGSTOP");
      try {
        for (let i = 0; i < 5; i++) assert.equal((await get(url)).body, String(serving));
      } finally {
        process.kill(stopped, "SIGCONT");
      }
    }
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("a HUP under activation loses no request", T, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const { c } = await activated([`127.0.0.1:${port}`], ["-w", "2", "tests/apps/pid.ts"], () => get(url));
    const load = startLoad(url, 4);
    await waitFor("requests", () => load.result.requests > 50);
    const before = load.result.pids.size;
    c.kill("SIGHUP");
    await c.waitForLog(/Reloaded: 2 new workers serving/, 20_000);
    await waitFor("the new workers' answers", () => load.result.pids.size >= before + 2, 10_000);
    assertNoLoss(await load.stop());
    c.kill("SIGTERM");
    await c.exit();
  });

  test("a unix socket is served too", T, async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-act-"));
    dirs.push(dir);
    const path = join(dir, "s.sock");
    const { c, reply } = await activated(
      [path],
      ["-w", "2", "tests/apps/pid.ts"],
      () => get("http://localhost/", { socketPath: path, timeoutMs: 20_000 }),
    );
    assert.equal((reply as { status: number }).status, 200);
    assert.match(c.stderr, new RegExp(`Listening at: unix:${path} \\(systemd's socket, fd 3\\)`));
    c.kill("SIGTERM");
    await c.exit();
  });

  test("with --user, the master switches too: systemd's sockets leave it nothing to bind", {
    ...T,
    skip: process.getuid?.() !== 0 && "not root",
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const { c } = await activated(
      [`127.0.0.1:${port}`],
      ["-w", "2", "-u", "nobody", "tests/apps/whoami.ts"],
      () => get(url, { timeoutMs: 20_000 }),
    );
    assert.match(
      c.stderr,
      /Running as uid 65534, gid 65534: systemd's sockets leave the master nothing to bind/,
    );
    const master = Number(/\[(\d+)\] \[INFO\] Starting corral/.exec(c.stderr)?.[1]);
    const uid = (pid: number) => /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    assert.equal(uid(master), "65534\t65534\t65534\t65534");
    assert.equal(JSON.parse((await get(url)).body).uid, "65534 65534 65534 65534");
    c.kill("SIGHUP");
    await c.waitForLog(/Reloaded: 2 new workers serving/, 20_000);
    assert.equal((await get(url)).status, 200);
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test("a descriptor that is not a listening socket is refused, exit 3", T, () => {
    const cmd = cliCommand().map((a) => `'${a}'`).join(" ");
    const r = spawnSync("sh", [
      "-c",
      `LISTEN_FDS=1 LISTEN_PID=$$ exec ${cmd} tests/apps/pid.ts 3</etc/hostname`,
    ], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /systemd passed descriptor 3, which is not a listening stream socket/);
  });

  test("LISTEN_FDS for another pid is not taken: corral binds --bind and says why", T, async () => {
    const port = await freePort();
    const c = new Corral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"], {
      env: { LISTEN_FDS: "1", LISTEN_PID: "1" },
    });
    await c.ready();
    assert.match(c.stderr, /LISTEN_FDS is set for pid 1, not for this master/);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
    c.kill("SIGTERM");
    await c.exit();
  });

  test(
    "Deno without --allow-ffi refuses systemd's sockets, saying what to do",
    { ...T, skip: IS_BUN },
    () => {
      const cmd = cliCommand("cli.ts", ["-A", "--deny-ffi"]).map((a) => `'${a}'`).join(" ");
      const r = spawnSync(
        "python3",
        [
          "-c",
          "import socket,os,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); os.dup2(s.fileno(),3); " +
          "os.environ['LISTEN_FDS']='1'; os.environ['LISTEN_PID']=str(os.getpid()); " +
          `os.execvp('sh',['sh','-c',sys.argv[1]])`,
          `exec ${cmd} tests/apps/pid.ts`,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 20_000 },
      );
      assert.equal(r.status, 3, r.stderr);
      assert.match(
        r.stderr,
        /needs --allow-ffi .* \(run it with -A\); or let corral bind its addresses itself/,
      );
    },
  );
});
