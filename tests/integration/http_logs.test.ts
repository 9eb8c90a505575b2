/** The access log and the error log against the real CLI, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  Corral,
  freePort,
  FRONT_APP,
  RUNTIME,
  startOnFreePort,
  stopAll,
  waitFor,
} from "../_helpers/corral.ts";
import { get, sendingAll } from "../_helpers/http.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-logs-"));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});
const T = { timeout: 30_000 };
let files = 0;

function tempFile(name: string): string {
  return join(dir, `${++files}-${name}`);
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l !== "") : [];
}

/** A GET with the headers an access log shows; resolves with the status. */
async function fetchWith(url: string, headers: Record<string, string>): Promise<number> {
  return (await get(url, { headers })).status;
}

const start = (args: string[]) => startOnFreePort(args);

/** Sends `head` to a corral logging to stdout with `args`, stops it, and returns its one access line. */
async function oneAccessLine(args: string[], head: string): Promise<string> {
  const { c, port } = await start(["--access-logfile", "-", ...args]);
  assert.match(await sendingAll(port, head, "", 0), /^HTTP\/1\.1 200 /);
  await waitFor("the access line", () => c.stdout.includes("\n"), 5000);
  c.kill("SIGTERM");
  await c.exit();
  const all = c.stdout.split("\n").filter((l) => l !== "");
  assert.equal(all.length, 1, c.stdout);
  return all[0] as string;
}

describe(`access log (${RUNTIME})`, () => {
  test("off by default: nothing on stdout", T, async () => {
    const { c, port } = await start([]);
    await get(`http://127.0.0.1:${port}/`);
    c.kill("SIGTERM");
    await c.exit();
    assert.equal(c.stdout, "");
  });

  test(
    "- writes Gunicorn's default format to stdout, one line a request, the front's refusals included",
    T,
    async () => {
      const { c, port } = await start(["--access-logfile", "-"]);
      const status = await fetchWith(`http://127.0.0.1:${port}/sized?x=1`, {
        referer: "http://ref.example/",
        "user-agent": "corral-test/1",
        authorization: "Basic " + btoa("alice:pw"),
      });
      assert.equal(status, 200);
      await get(`http://127.0.0.1:${port}/${"a".repeat(5000)}`);
      await waitFor("two access lines", () => c.stdout.split("\n").length > 2, 5000);
      const [first, second] = c.stdout.split("\n");
      assert.match(
        first ?? "",
        /^127\.0\.0\.1 - alice \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/sized\?x=1 HTTP\/1\.1" 200 12 "http:\/\/ref\.example\/" "corral-test\/1"$/,
      );
      assert.match(second ?? "", / "GET \/a+ HTTP\/1\.1" 414 /);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test("a custom format with Gunicorn's atoms, to a file, flushed when the worker stops", T, async () => {
    const log = tempFile("access.log");
    const format = "%(h)s %(m)s %(U)s %(q)s %(s)s %(b)s %({x-request-id}i)s %({x-trace}o)s %(p)s %(M)sms";
    const { c, port } = await start(["--access-logfile", log, "--access-log-format", format]);
    await fetchWith(`http://127.0.0.1:${port}/sized?a=b`, { "x-request-id": "req-9" });
    for (let i = 0; i < 200; i++) await get(`http://127.0.0.1:${port}/n${i}`);
    const [worker] = c.workerPids();
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
    const all = lines(log);
    assert.equal(all.length, 201, "every line written by the time the worker is gone");
    assert.match(
      all[0] ?? "",
      new RegExp(`^127\\.0\\.0\\.1 GET /sized a=b 200 12 req-9 abc <${worker}> \\d+ms$`),
    );
    assert.match(all[200] ?? "", /^127\.0\.0\.1 GET \/n199 {2}200 - - - </);
  });

  test("json: one object a line, with status, timing and the app's 500", T, async () => {
    const log = tempFile("access.jsonl");
    const { c, port } = await start(["--access-logfile", log, "--access-log-format", "json"]);
    await fetchWith(`http://127.0.0.1:${port}/p?q=1`, { "user-agent": "ua-json" });
    assert.equal((await get(`http://127.0.0.1:${port}/throw`)).status, 500);
    await waitFor("two json lines", () => lines(log).length === 2, 5000);
    const [ok, failed] = lines(log).map((l) => JSON.parse(l));
    assert.equal(ok.method, "GET");
    assert.equal(ok.path, "/p");
    assert.equal(ok.query, "q=1");
    assert.equal(ok.status, 200);
    assert.equal(ok.user_agent, "ua-json");
    assert.equal(ok.remote_addr, "127.0.0.1");
    assert.equal(typeof ok.duration_ms, "number");
    assert.ok(!Number.isNaN(Date.parse(ok.time)));
    assert.equal(failed.status, 500);
    c.kill("SIGTERM");
    await c.exit();
  });

  test(
    "a hostile request is one line: forged user, quotes, backslashes and UTF-8 come out escaped",
    T,
    async () => {
      const forged = 'alice\n6.6.6.6 - admin [x] "DELETE /users HTTP/1.1" 204\nx';
      // The head goes out as UTF-8: "é" is the bytes C3 A9.
      const head = 'GET /a"b\\c HTTP/1.1\r\nHost: h\r\n' +
        `Authorization: Basic ${btoa(`${forged}:pw`)}\r\n` +
        'User-Agent: ua "q" \\ é\r\nReferer: r"\r\nConnection: close\r\n\r\n';
      const line = await oneAccessLine([], head);
      // Deno's request.url keeps the quote and the backslash; Bun's percent-encodes them.
      const target = RUNTIME === "deno" ? '/a\\"b\\\\c' : "/a%22b/c";
      const user = 'alice\\x0A6.6.6.6 - admin [x] \\"DELETE /users HTTP/1.1\\" 204\\x0Ax';
      assert.match(
        line,
        /^127\.0\.0\.1 - .* \[[^\]]+\] "(?:[^"\\]|\\.)*" 200 - "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"$/,
      );
      assert.ok(
        line.endsWith(`"GET ${target} HTTP/1.1" 200 - "r\\"" "ua \\"q\\" \\\\ \\xC3\\xA9"`),
        line,
      );
      assert.ok(line.startsWith(`127.0.0.1 - ${user} [`), line);
    },
  );

  test(
    "the default format's fields are read without the request's Headers on Deno, repeated ones joined " +
      "as Headers.get joins them",
    T,
    async () => {
      const { c, port } = await start(["--access-logfile", "-"]);
      const head = "GET /headers-read HTTP/1.1\r\nHost: h\r\nUser-Agent: a\r\nuser-agent: b\r\n" +
        `Authorization: Basic ${btoa("bob:pw")}\r\nReferer: r1\r\nReferer: r2\r\nConnection: close\r\n\r\n`;
      const reply = await sendingAll(port, head, "", 0);
      await waitFor("the access line", () => c.stdout.includes("\n"), 5000);
      c.kill("SIGTERM");
      await c.exit();
      // Deno.serve copies every field of a request whose Headers were read, and answers it through a promise.
      const seen = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));
      assert.equal(seen.read, RUNTIME === "deno" ? "false" : "unknown", reply);
      assert.match(
        c.stdout,
        /^127\.0\.0\.1 - bob \[[^\]]+\] "GET \/headers-read HTTP\/1\.1" 200 - "r1, r2" "a, b"\n$/,
      );
    },
  );

  test("json: a hostile request is one line of ASCII that parses back to what was sent", T, async () => {
    const head = "GET /p HTTP/1.1\r\nHost: h\r\n" +
      `Authorization: Basic ${btoa('a\n"b\u2028:pw'.replace("\u2028", "\xe2\x80\xa8"))}\r\n` +
      'User-Agent: ua "q" \\ é\r\nConnection: close\r\n\r\n';
    const line = await oneAccessLine(["--access-log-format", "json"], head);
    assert.match(line, /^[\x20-\x7e]+$/);
    const entry = JSON.parse(line);
    // Header bytes, one character a byte, as the runtime gives them to the app.
    assert.equal(entry.user_agent, 'ua "q" \\ \u00c3\u00a9');
    assert.equal(entry.user, 'a\n"b\u00e2\u0080\u00a8');
  });

  test("USR1 reopens the access log: a rotated file is let go of, and a new one is written", T, async () => {
    const log = tempFile("rotate.log");
    const { c, port } = await start(["--access-logfile", log]);
    await get(`http://127.0.0.1:${port}/before`);
    await waitFor("the first line", () => lines(log).length === 1, 5000);
    renameSync(log, log + ".1");
    const [worker] = c.workerPids();
    process.kill(worker as number, "SIGUSR1");
    await waitFor("the reopened file", () => existsSync(log), 5000);
    await get(`http://127.0.0.1:${port}/after`);
    await waitFor("the line in the new file", () => lines(log).length === 1, 5000);
    assert.match(lines(log)[0] ?? "", /"GET \/after /);
    assert.equal(lines(log + ".1").length, 1);
    c.kill("SIGTERM");
    await c.exit();
  });

  test("a log file that cannot be opened stops the worker's boot with a message naming it", T, async () => {
    const port = await freePort();
    const missing = join(dir, "no", "such", "folder", "access.log");
    const c = new Corral(["-b", `127.0.0.1:${port}`, "--access-logfile", missing, FRONT_APP]);
    const { code } = await c.exit(15_000);
    assert.equal(code, 3);
    assert.match(c.stderr, new RegExp(`Cannot open --access-logfile "${missing}": no such folder`));
  });
});

describe(`error log (${RUNTIME})`, () => {
  test(
    "--error-logfile with --log-format json: the worker's lines, one object each, with pid and worker",
    T,
    async () => {
      const log = tempFile("error.jsonl");
      const port = await freePort();
      const c = new Corral([
        "-b",
        `127.0.0.1:${port}`,
        "--error-logfile",
        log,
        "--log-format",
        "json",
        FRONT_APP,
      ]);
      // The master logs there too: its "Ready" line is a JSON object in the file, not on stderr.
      await waitFor(
        "the master's Ready line",
        () => lines(log).some((l) => /"message":"Ready: 1 worker serving"/.test(l)),
        15_000,
      );
      assert.equal(c.stderr, "", "nothing on stderr");
      assert.equal((await get(`http://127.0.0.1:${port}/throw`)).status, 500);
      const worker = Number(/Booting worker with pid: (\d+)/.exec(lines(log).join("\n"))?.[1]);
      await waitFor(
        "the error line",
        () => lines(log).some((l) => l.includes("boom from the front app")),
        5000,
      );
      const entry = lines(log).map((l) => JSON.parse(l)).find((e) => e.message.includes("boom"));
      assert.equal(entry.level, "error");
      assert.equal(entry.pid, worker);
      assert.equal(entry.worker, 1);
      assert.equal(entry.logger, "corral.worker");
      assert.equal(entry.fields.error.message, "boom from the front app");
      assert.match(entry.fields.error.stack, /front_app\.ts/);
      for (const line of lines(log)) JSON.parse(line);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test("--log-level error keeps info lines out of the error log", T, async () => {
    const log = tempFile("quiet.log");
    const port = await freePort();
    const c = new Corral([
      "-b",
      `127.0.0.1:${port}`,
      "--error-logfile",
      log,
      "--log-level",
      "error",
      FRONT_APP,
    ]);
    // No "Ready" line at this level: wait until it answers.
    await waitFor(
      "the server",
      () => get(`http://127.0.0.1:${port}/throw`).then(() => true, () => false),
      15_000,
    );
    await waitFor(
      "the error",
      () => lines(log).some((l) => l.includes("[ERROR] Error handling request")),
      5000,
    );
    c.kill("SIGTERM");
    await c.exit();
    assert.ok(!lines(log).some((l) => l.includes("[INFO]")), lines(log).join("\n"));
  });
});
