/**
 * Another user on the same host, against the real CLI: a symlink planted at
 * the pid file, the control socket, the unix socket relay. Run as root, a
 * test also tries as `nobody` what another user could do.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  cliCommand,
  Corral,
  freePort,
  FRONT_APP,
  runCorral,
  RUNTIME,
  stopAll,
  waitFor,
} from "../_helpers/corral.ts";
import { asOtherUser, OTHER_USER_SKIP } from "../_helpers/other_user.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-local-"));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});
const T = { timeout: 30_000 };
let folders = 0;

/** A fresh folder of the test's. */
function folder(): string {
  return mkdtempSync(join(dir, `${++folders}-`));
}

describe(`pid file (${RUNTIME})`, () => {
  test(
    "a symlink planted at the pid path is refused, naming it and the flag; its target is untouched",
    T,
    async () => {
      const where = folder();
      const target = join(where, "precious");
      writeFileSync(target, "precious\n");
      const pidfile = join(where, "corral.pid");
      symlinkSync(target, pidfile);
      const { code, stderr } = await runCorral([
        "-p",
        pidfile,
        "-b",
        `127.0.0.1:${await freePort()}`,
        FRONT_APP,
      ]);
      assert.equal(code, 3);
      assert.match(stderr, new RegExp(`Cannot write --pid "${pidfile}": it is a symbolic link`));
      assert.equal(readFileSync(target, "utf8"), "precious\n");
      assert.ok(lstatSync(pidfile).isSymbolicLink());
    },
  );

  test(
    "the file is written through a renamed temporary; at exit only a file holding our pid is removed",
    T,
    async () => {
      const where = folder();
      const pidfile = join(where, "corral.pid");
      const start = async () => {
        const c = new Corral(["-p", pidfile, "-b", `127.0.0.1:${await freePort()}`, FRONT_APP]);
        await c.ready();
        assert.equal(readFileSync(pidfile, "utf8"), `${c.pid}\n`);
        assert.deepEqual(readdirSync(where), ["corral.pid"], "no temporary file left");
        return c;
      };
      // Another process's pid: left alone.
      const first = await start();
      writeFileSync(pidfile, "1\n");
      first.kill("SIGTERM");
      assert.equal((await first.exit()).code, 0);
      assert.equal(readFileSync(pidfile, "utf8"), "1\n");
      // A symlink to a file with our pid in it: left alone, and so is the file.
      rmSync(pidfile);
      const second = await start();
      const decoy = join(where, "decoy");
      writeFileSync(decoy, `${second.pid}\n`);
      rmSync(pidfile);
      symlinkSync(decoy, pidfile);
      second.kill("SIGTERM");
      assert.equal((await second.exit()).code, 0);
      assert.ok(lstatSync(pidfile).isSymbolicLink());
      assert.ok(existsSync(decoy));
    },
  );
});

/**
 * As another user: connects to `path` again and again, from before it
 * exists, and sends `stop` if it ever gets in; prints what it met.
 */
function stopper(path: string, ms: number): string {
  return `
    const { createConnection } = await import("node:net");
    const seen = {};
    let connected = null;
    const deadline = Date.now() + ${ms};
    console.log("started");
    while (connected === null && Date.now() < deadline && (seen.EACCES ?? 0) < 50) {
      const result = await new Promise((resolve) => {
        const socket = createConnection(${JSON.stringify(path)});
        socket.once("connect", () => {
          let reply = "";
          socket.setEncoding("utf8");
          socket.on("data", (d) => reply += d);
          socket.on("close", () => resolve({ reply }));
          socket.end('{"command":"stop"}\\n');
        });
        socket.once("error", (e) => resolve(e.code));
      });
      if (typeof result === "object") connected = result.reply;
      else seen[result] = (seen[result] ?? 0) + 1;
    }
    console.log(JSON.stringify({ connected, seen }));
  `;
}

/** The mode of `path` as soon as it exists, polled without yielding (corral runs in its own process). */
function firstMode(path: string, ms: number): number {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      return lstatSync(path).mode & 0o777;
    } catch { /* not yet */ }
  }
  throw new Error(`${path} did not appear within ${ms} ms`);
}

/**
 * What starts corral under umask 0 and, where strace is installed, holds
 * each chmod of `path` 1.5 s (each execs the next; strace -D keeps the pid
 * corral's): a socket chmod-ed after it appeared at `path` would sit at
 * its umask's mode for that long, where a poll and another user cannot
 * miss it. Without strace the gap is the runtime's, microseconds.
 */
function umask0SlowChmod(path: string): string[] {
  const strace = spawnSync("strace", ["-V"]).status === 0
    ? ["strace", "-D", "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null", "-P", path]
      .concat(["-e", "trace=chmod,fchmodat", "-e", "inject=chmod,fchmodat:delay_enter=1500000"])
    : [];
  return ["sh", "-c", 'umask 0 && exec "$@"', "sh", ...strace];
}

describe(`the control socket (${RUNTIME})`, () => {
  test(
    "under umask 0 in a world-writable folder, it is 0600 from its first instant; another user cannot stop corral",
    { timeout: 60_000, skip: OTHER_USER_SKIP },
    async () => {
      chmodSync(dir, 0o755);
      const where = folder();
      chmodSync(where, 0o777);
      const path = join(where, "control.sock");
      const attacker = asOtherUser(stopper(path, 30_000), 40_000);
      await waitFor("the other user's program", () => attacker.stdout().includes("started"), 20_000);
      const c = new Corral(["--control-socket", path, "-b", `127.0.0.1:${await freePort()}`, FRONT_APP], {
        command: [...umask0SlowChmod(path), ...cliCommand()],
      });
      assert.equal(firstMode(path, 30_000).toString(8), "600");
      const { stdout } = await attacker.done;
      const result = JSON.parse(stdout.split("\n").filter((l) => l.startsWith("{")).pop() ?? "{}");
      assert.equal(result.connected, null, `another user got in: ${stdout}`);
      assert.ok(result.seen.EACCES > 0, `another user was refused by the socket's mode: ${stdout}`);
      await c.ready(30_000);
      assert.equal(c.exitCode, null, "still running");
      assert.deepEqual(readdirSync(where), ["control.sock"], "the private folder is gone");
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );
});

/** What the processes `pids` listen on, from /proc: TCP ports and unix socket paths. */
function listening(pids: readonly number[]): { tcp: number[]; unix: string[] } {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (socket) inodes.add(socket[1] as string);
      } catch { /* closed meanwhile */ }
    }
  }
  const rows = (file: string) =>
    readFileSync(file, "utf8").split("\n").slice(1).map((l) => l.trim().split(/\s+/));
  const tcp = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap(rows)
    // st 0A: LISTEN; local_address is ADDR:PORT in hex.
    .filter((f) => f[3] === "0A" && inodes.has(f[9] ?? ""))
    .map((f) => parseInt((f[1] ?? "").split(":").pop() ?? "", 16));
  const unix = rows("/proc/net/unix")
    // Flags 00010000: a listening socket.
    .filter((f) => f[3] === "00010000" && inodes.has(f[6] ?? "") && f[7] !== undefined)
    .map((f) => f[7] as string);
  return { tcp, unix };
}

/** As another user: sends a request with X-Forwarded-For: 8.8.8.8 to each target; prints what happened. */
function forger(targets: readonly ({ path: string } | { port: number })[]): string {
  return `
    const { createConnection } = await import("node:net");
    const results = [];
    for (const target of ${JSON.stringify(targets)}) {
      results.push(await new Promise((resolve) => {
        const socket = target.path ? createConnection(target.path) : createConnection(target.port, "127.0.0.1");
        let reply = "";
        socket.setEncoding("latin1");
        socket.once("connect", () => socket.write(
          "GET /addr HTTP/1.1\\r\\nHost: x\\r\\nX-Forwarded-For: 8.8.8.8\\r\\nConnection: close\\r\\n\\r\\n",
        ));
        socket.on("data", (d) => reply += d);
        socket.once("error", (e) => resolve({ target, error: e.code }));
        socket.once("close", () => resolve({ target, reply }));
      }));
    }
    console.log(JSON.stringify(results));
  `;
}

describe(`the unix socket relay (${RUNTIME})`, () => {
  test(
    "-w 2: another user reaches no worker (no TCP port, sockets in a 0700 folder), so cannot forge X-Forwarded-For",
    { timeout: 60_000, skip: OTHER_USER_SKIP },
    async () => {
      chmodSync(dir, 0o755);
      const where = folder();
      chmodSync(where, 0o755);
      const path = join(where, "app.sock");
      const c = new Corral(["-w", "2", "-b", `unix:${path}`, "tests/apps/pid.ts"]);
      await c.ready();
      // Every socket the master and the workers listen on (Deno's workers also hold the master's).
      const all = listening([c.pid, ...c.workerPids()]);
      const targets = [...all.unix.map((p) => ({ path: p })), ...all.tcp.map((port) => ({ port }))];
      assert.ok(all.unix.includes(path));
      const { stdout } = await asOtherUser(forger(targets)).done;
      const results = JSON.parse(stdout) as { target: unknown; reply?: string; error?: string }[];
      const reached = results.filter((r) => r.reply !== undefined);
      assert.deepEqual(reached, [], "another user reached a worker");
      assert.deepEqual(results.map((r) => r.error), targets.map(() => "EACCES"));
      assert.deepEqual(all.tcp, [], "no worker listens on TCP");
      const master = listening([c.pid]).unix;
      const workers = all.unix.filter((p) => !master.includes(p));
      assert.equal(workers.length, 2, `a socket per worker: ${workers}`);
      for (const socket of workers) {
        const folderStat = statSync(dirname(socket));
        assert.equal(folderStat.mode & 0o777, 0o700, `${dirname(socket)} is private`);
        assert.equal(folderStat.uid, process.getuid?.());
      }
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
      assert.ok(workers.every((s) => !existsSync(dirname(s))), "the private folder is removed at exit");
    },
  );
});
