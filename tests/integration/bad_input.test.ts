/** Bad input gets one clear error naming the thing at fault, and the right exit code. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  alive,
  cliCommand,
  Corral,
  freePort,
  ROOT,
  runCorral,
  RUNTIME,
  stopAll,
  waitFor,
} from "../_helpers/corral.ts";

after(stopAll);
const T = { timeout: 30_000 };

/** A command prefix that runs as an unprivileged user, or null. */
function _unprivileged(): string[] | null {
  if (Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8")) <= 80) return null;
  if (process.getuid?.() !== 0) return [];
  const setpriv = spawnSync("setpriv", ["--version"]);
  return setpriv.status === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : null;
}

/** Sends `signal` to `pid`; false when it is gone. */
function _signal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe(`app load errors exit 4 with one line naming the module (${RUNTIME})`, () => {
  const cases: [string, string, RegExp][] = [
    ["a missing module", "tests/apps/nope.ts", /Cannot load app "tests\/apps\/nope.ts": module not found/],
    [
      "a syntax error",
      "tests/apps/syntax_error.js",
      /Cannot load app "tests\/apps\/syntax_error.js": SyntaxError: .+ \(at .*syntax_error.js:1:\d+\)/,
    ],
    [
      "no such export",
      "tests/apps/pid.ts:nope",
      /Cannot load app "tests\/apps\/pid.ts": it has no export named "nope" \(it exports: (?=.*default)(?=.*plain)(?=.*notAHandler)/,
    ],
    [
      "an export that is not a handler",
      "tests/apps/pid.ts:notAHandler",
      /Cannot load app "tests\/apps\/pid.ts": export "notAHandler" is not a fetch handler: .*got a number/,
    ],
  ];
  for (const [what, app, pattern] of cases) {
    test(what, T, async () => {
      const port = await freePort();
      const t0 = Date.now();
      const r = await runCorral(["-w", "2", "-b", `127.0.0.1:${port}`, app], 10_000);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(count(r.stderr, "Cannot load app"), 1, `one line, got:\n${r.stderr}`);
      assert.equal(count(r.stderr, "Booting worker"), 2, "no respawn loop");
      assert.ok(Date.now() - t0 < 5000);
    });
  }
  // The worker's message is in the master's socket before it exits, but the master may learn of the exit
  // first: stopped while its workers fail, it finds both ready at once (both runtimes then reap first).
  test("the module is named even when the master learns of the exit before the message", T, async () => {
    const tries: string[] = [];
    for (let attempt = 0; attempt < 8 && tries.filter((t) => t === "forced").length < 2; attempt++) {
      const corral = new Corral(["-w", "2", "-b", `127.0.0.1:${await freePort()}`, "tests/apps/nope.ts"]);
      await corral.waitForLog(/Booting worker/);
      // Forced only if the master stopped while a worker it had started still ran, and that one then exited.
      // Else the master may have been done by then, or its worker may wait for the boot message it had not
      // written yet: those tries prove nothing.
      const [pid] = corral.workerPids() as [number];
      if (!_signal(corral.pid, "SIGSTOP") || !alive(corral.pid)) tries.push("the master was done");
      else if (!alive(pid)) tries.push("the worker was done");
      else {
        try {
          await waitFor("the worker to exit", () => !alive(pid), 3000);
          tries.push("forced");
        } catch {
          tries.push("the worker waited for its boot message");
        }
      }
      _signal(corral.pid, "SIGCONT");
      const { code } = await corral.exited;
      assert.equal(code, 4, corral.stderr);
      assert.match(corral.stderr, /Cannot load app "tests\/apps\/nope.ts": module not found/);
      assert.equal(count(corral.stderr, "Cannot load app"), 1, `one line, got:\n${corral.stderr}`);
    }
    assert.ok(tries.includes("forced"), `never forced: ${tries.join("; ")}`);
  });
});

describe(`bind and TLS errors name the address or file (${RUNTIME})`, () => {
  test("an address in use by another program: exit 3 within 5 s", T, async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      const r = await runCorral(["-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"], 5000);
      assert.equal(r.code, 3);
      assert.match(r.stderr, new RegExp(`Cannot bind "http://127.0.0.1:${port}": address already in use`));
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      server.close();
    }
  });

  test("a port that needs privileges: exit 3 naming the address", {
    ...T,
    skip: !_unprivileged() && "needs a non-root user: run as one, or as root with setpriv (util-linux)",
  }, () => {
    const [cmd, ...rest] = _unprivileged() as string[];
    const t0 = Date.now();
    const out = spawnSync(cmd as string, [
      ...rest,
      ...cliCommand(),
      "-b",
      "127.0.0.1:80",
      "tests/apps/pid.ts",
    ], {
      cwd: ROOT,
      env: { ...process.env, HOME: tmpdir(), DENO_DIR: join(tmpdir(), "corral-nobody-deno") },
      encoding: "utf8",
      timeout: 10_000,
    });
    assert.equal(out.status, 3, out.stderr);
    assert.match(out.stderr, /Cannot bind "http:\/\/127.0.0.1:80": permission denied/);
    assert.ok(Date.now() - t0 < 5000);
  });

  test("a unix socket in a missing folder names the folder, exit 3", T, async () => {
    const r = await runCorral(
      ["-w", "2", "-b", "unix:/nonexistent-corral/dir/s.sock", "tests/apps/pid.ts"],
      10_000,
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /Cannot bind "unix:\/nonexistent-corral\/dir\/s.sock": the folder "\/nonexistent-corral\/dir" does not exist/,
    );
  });

  test("an address not on this machine", T, async () => {
    const r = await runCorral(["-b", "192.0.2.1:8000", "tests/apps/pid.ts"], 5000);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /Cannot bind "http:\/\/192.0.2.1:8000": address not available/);
  });

  test("a control socket in a missing folder: exit 3 naming the flag and the folder", T, async () => {
    const path = join(tmpdir(), "corral-no-such-folder", "control.sock");
    const r = await runCorral([
      "--control-socket",
      path,
      "-b",
      `127.0.0.1:${await freePort()}`,
      "tests/apps/pid.ts",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /Cannot open --control-socket ".*control\.sock": the folder ".*corral-no-such-folder" does not exist/,
    );
  });

  test("a missing certificate file names the flag and the path", T, async () => {
    const port = await freePort();
    const r = await runCorral(
      [
        "--certfile",
        "/nonexistent/cert.pem",
        "--keyfile",
        "tests/fixtures/tls/key.pem",
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/pid.ts",
      ],
      5000,
    );
    assert.equal(r.code, 3);
    assert.match(r.stderr, /Cannot read --certfile "\/nonexistent\/cert.pem": no such file/);
  });

  test("a key file with no PEM key in it", T, async () => {
    const port = await freePort();
    const r = await runCorral(
      [
        "--certfile",
        "tests/fixtures/tls/cert.pem",
        "--keyfile",
        "tests/fixtures/tls/cert.pem",
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/pid.ts",
      ],
      5000,
    );
    assert.equal(r.code, 3);
    assert.match(r.stderr, /Invalid --keyfile "tests\/fixtures\/tls\/cert.pem": no PEM private key/);
  });

  test("a corrupt certificate is refused by the worker with exit 3, naming the TLS files", T, async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-test-"));
    const bad = join(dir, "bad.pem");
    writeFileSync(bad, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
    const port = await freePort();
    const r = await runCorral(
      [
        "--certfile",
        bad,
        "--keyfile",
        "tests/fixtures/tls/key.pem",
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/pid.ts",
      ],
      5000,
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /--certfile\/--keyfile/);
    assert.equal(count(r.stderr, "Cannot bind"), 1, r.stderr);
  });
});

describe(`invalid values are usage errors naming the flag, exit 2 (${RUNTIME})`, () => {
  const cases: [string[], RegExp][] = [
    [["-w", "0"], /Invalid value for -w\/--workers: "0"/],
    [["-w", "abc"], /Invalid value for -w\/--workers: "abc"/],
    [
      ["-b", "127.0.0.1:99999"],
      /Invalid value for -b\/--bind: "127.0.0.1:99999": port 99999 is out of range/,
    ],
    [["--graceful-timeout", "soon"], /Invalid value for --graceful-timeout: "soon"/],
    [["--log-level", "loud"], /Invalid value for --log-level: "loud"/],
    [["--no-such-flag"], /Unknown option "--no-such-flag"/],
    [["--wokers", "2"], /Unknown option "--wokers" \(did you mean --workers\?\)/],
    [["-w", "-1"], /Invalid value for -w\/--workers: "-1": must be at least 1, not negative/],
    [["--certfile", "x.pem"], /--certfile needs --keyfile/],
  ];
  for (const [args, pattern] of cases) {
    test(args.join(" "), T, async () => {
      const r = await runCorral([...args, "tests/apps/pid.ts"], 5000);
      assert.equal(r.code, 2);
      assert.match(r.stderr, pattern);
    });
  }
  test("WEB_CONCURRENCY=many names the variable", T, async () => {
    const r = await runCorral(["tests/apps/pid.ts"], 5000, { WEB_CONCURRENCY: "many" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Invalid value for \$WEB_CONCURRENCY: "many"/);
  });
  test("no APP_MODULE", T, async () => {
    const r = await runCorral([], 5000);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Missing APP_MODULE/);
  });
  test("--help and --version exit 0", T, async () => {
    const help = await runCorral(["--help"], 5000);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--graceful-timeout/);
    const version = await runCorral(["--version"], 5000);
    assert.equal(version.code, 0);
    assert.match(version.stdout, new RegExp(`^corral \\d+\\.\\d+\\.\\d+ \\(${RUNTIME} `));
  });
});
