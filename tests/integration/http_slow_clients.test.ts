/**
 * Slow clients against the real CLI, under the runtime running the tests: slowloris heads and slow bodies
 * are closed on time (--header-timeout, --body-timeout), fast uploads, slow apps and idle keep-alive
 * connections are not. Short timeouts, so each test takes a few seconds.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { connect, type Socket } from "node:net";
import {
  Corral,
  DENO_WITHOUT_FFI,
  freePort,
  RUNTIME,
  startOnFreePort,
  stopAll,
  waitFor,
} from "../_helpers/corral.ts";
import { get, sendingAll } from "../_helpers/http.ts";

after(stopAll);
const T = {
  timeout: 40_000,
  skip: process.platform === "linux" ? false : "enforced through Linux's TCP_INFO",
};
const ANSWER_408 = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/** A raw connection that sends `first`, then `drip` every `everyMs` until it is closed; records when. */
async function client(port: number, first: string, drip = "", everyMs = 200) {
  const socket: Socket = connect(port, "127.0.0.1");
  const t0 = Date.now();
  let received = "";
  let closedAfter: number | null = null;
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => received += d);
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  const timer = drip ? setInterval(() => socket.write(drip), everyMs) : undefined;
  socket.on("close", () => {
    clearInterval(timer);
    closedAfter = Date.now() - t0;
  });
  if (first) socket.write(first);
  return { socket, received: () => received, closedAfter: () => closedAfter };
}

describe(`slow clients (${RUNTIME})`, () => {
  test(
    "--header-timeout: a slowloris head is answered 408 and closed on time, a silent connection is closed",
    T,
    async () => {
      const { c, port } = await startOnFreePort(["--header-timeout", "1", "--keep-alive", "30"]);
      // A header line every 200 ms: about 50 bytes/s, far under 500.
      const loris = await client(port, "GET / HTTP/1.1\r\nHost: x\r\n", "X-Drip: 1\r\n");
      const silent = await client(port, "");
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200, "others are served meanwhile");
      await waitFor("both to be closed", () => loris.closedAfter() !== null && silent.closedAfter() !== null);
      assert.equal(loris.received(), ANSWER_408);
      assert.equal(silent.received(), "");
      // 1 s and a bit for the bytes, checked 4 times a second; Bun accepts a silent connection after about 1 s.
      assert.ok((loris.closedAfter() as number) >= 1000 && (loris.closedAfter() as number) < 3000);
      assert.ok((silent.closedAfter() as number) >= 1000 && (silent.closedAfter() as number) < 4000);
      await c.waitForLog(/Closed [12] slow clients \([12] heads past --header-timeout/);
      loris.socket.destroy();
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "--body-timeout: a body trickled, and one stopped half-way, are answered 408 and closed on time",
    T,
    async () => {
      const { c, port } = await startOnFreePort(["--header-timeout", "10", "--body-timeout", "1"]);
      const head = (length: number) => `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
      const trickle = await client(port, head(1_000_000), "zzzzz");
      const halfway = await client(port, head(1000) + "z".repeat(500));
      await waitFor(
        "both to be closed",
        () => trickle.closedAfter() !== null && halfway.closedAfter() !== null,
      );
      for (const conn of [trickle, halfway]) {
        assert.equal(conn.received(), ANSWER_408);
        // Within the body's 1 s (and a bit for the bytes), long before the head's 10 s.
        assert.ok((conn.closedAfter() as number) >= 1000 && (conn.closedAfter() as number) < 4000);
      }
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "a fast 8 MiB upload, a slow app and a slow app that leaves the body unread are never cut",
    T,
    async () => {
      const { c, port } = await startOnFreePort(["--header-timeout", "1", "--body-timeout", "1"]);
      const uploading = () =>
        sendingAll(
          port,
          `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
          "u".repeat(64 * 1024),
          128,
        );
      const upload = uploading();
      const slow = get(`http://127.0.0.1:${port}/slow?ms=4000`);
      const unread = get(`http://127.0.0.1:${port}/slow?ms=4000`, { method: "POST", body: "b".repeat(1000) });
      let answer = await upload;
      // Under Deno, this test's own node:net client now and then fails an upload with EPIPE and no answer,
      // whichever server it sends to (bare Bun.serve too), never under Bun (docs/RELIABILITY.md, 5.): such
      // a reset is tried once more. The defence logs what it closes, which is checked below either way.
      if (/^\(no answer: (EPIPE|ECONNRESET)/.test(answer)) answer = await uploading();
      assert.match(
        answer,
        /^HTTP\/1\.1 200/,
        `the upload got ${JSON.stringify(answer)}; corral said:\n${c.stderr}`,
      );
      assert.deepEqual([(await slow).body, (await unread).body], ["slept 4000", "slept 4000"]);
      assert.doesNotMatch(c.stderr, /slow clients/);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test("an idle keep-alive connection is governed by --keep-alive, not --header-timeout", T, async () => {
    const { c, port } = await startOnFreePort(["--header-timeout", "1", "--keep-alive", "3"]);
    const kept = await client(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor("the answer", () => kept.received().endsWith("ok"));
    await waitFor("the idle connection to be closed", () => kept.closedAfter() !== null, 10_000);
    assert.ok((kept.closedAfter() as number) >= 2900, `closed after ${kept.closedAfter()} ms`);
    assert.doesNotMatch(kept.received(), /408/);
    c.kill("SIGTERM");
    await c.exit();
  });

  for (const limits of [[], ["--header-timeout", "0", "--body-timeout", "0"]]) {
    const named = limits.length ? ", slow-client limits off" : "";
    test(
      `--keep-alive${named}: a request pipelined behind another, still at the app, is not cut`,
      T,
      async () => {
        const { c, port } = await startOnFreePort([...limits, "--keep-alive", "1"]);
        // Both arrive together: the connection's last event is the first answer, as if it waited for its client,
        // for the 2.5 s the app takes over the second.
        const conn = await client(
          port,
          "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /slow?ms=2500 HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        await waitFor("the connection to be closed", () => conn.closedAfter() !== null, 15_000);
        assert.match(conn.received(), /\r\n\r\nok[^]*slept 2500$/, `got ${JSON.stringify(conn.received())}`);
        // Closed as idle only after the second answer (1 s, seen within a look of 250 ms).
        assert.ok((conn.closedAfter() as number) >= 2500 + 900, `closed after ${conn.closedAfter()} ms`);
        c.kill("SIGTERM");
        await c.exit();
      },
    );

    // The app's answers come at random times, some in the same turn of the event loop as a look of the
    // watcher: until 2026-12-02, Deno cut about 1 in 230 of them, the answer returned but not yet written.
    test(
      `--keep-alive${named}: 300 requests pipelined behind others, answered at random times, none cut`,
      T,
      async () => {
        const { c, port } = await startOnFreePort([...limits, "--keep-alive", "1"]);
        const times = Array.from({ length: 300 }, () => 1000 + Math.floor(Math.random() * 2000));
        const conns = await Promise.all(
          times.map((ms) =>
            client(port, `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /slow?ms=${ms} HTTP/1.1\r\nHost: x\r\n\r\n`)
          ),
        );
        await waitFor(
          "every connection to be closed",
          () => conns.every((conn) => conn.closedAfter() !== null),
          15_000,
        );
        const cut = times.filter((ms, i) => !conns[i]?.received().endsWith(`slept ${ms}`));
        assert.deepEqual(cut, [], `cut: the requests of ${cut.join(", ")} ms`);
        c.kill("SIGTERM");
        await c.exit();
      },
    );

    test(`--keep-alive${named}: a streamed response that pauses longer is sent whole`, T, async () => {
      const { c, port } = await startOnFreePort([...limits, "--keep-alive", "1"]);
      const stream = await client(port, "GET /stream?n=3&ms=1600 HTTP/1.1\r\nHost: x\r\n\r\n");
      const idle = await client(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await waitFor("the stream's end, and the connection's", () => stream.closedAfter() !== null, 15_000);
      assert.match(
        stream.received(),
        /data: 1\n\n[^]*data: 2\n\n[^]*data: 3\n\n/,
        JSON.stringify(stream.received()),
      );
      assert.ok((stream.closedAfter() as number) >= 3200 + 900, `closed after ${stream.closedAfter()} ms`);
      // An idle connection beside it is closed: at once on Deno, once no response is being sent on Bun.
      await waitFor("the idle connection to be closed", () => idle.closedAfter() !== null, 10_000);
      assert.ok((idle.closedAfter() as number) >= 900, `closed after ${idle.closedAfter()} ms`);
      if (RUNTIME === "deno") {
        assert.ok((idle.closedAfter() as number) < 2500, `closed after ${idle.closedAfter()} ms`);
      }
      c.kill("SIGTERM");
      await c.exit();
    });
  }

  test(
    "--keep-alive: a client that stops reading a long answer for longer gets it whole, idle ones are closed",
    T,
    async () => {
      const { c, port } = await startOnFreePort(["--keep-alive", "1"]);
      const bytes = 48 * 1024 * 1024; // more than the client's and the server's socket buffers hold
      const socket: Socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      let received = 0;
      let closed = false;
      socket.on("data", (d: Uint8Array) => received += d.length);
      socket.on("close", () => closed = true);
      socket.write(`GET /big?bytes=${bytes} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await waitFor("the first bytes", () => received > 0);
      socket.pause(); // reads nothing for 3 s: the kernel's buffers fill, the server waits to send the rest
      // Meanwhile an idle connection is closed on time: on Bun too, whose server counts the stalled answer as
      // a response being sent, since the kernel shows which connection it is on.
      const idle = await client(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await waitFor("the idle connection to be closed", () => idle.closedAfter() !== null, 2900);
      await new Promise((resolve) => setTimeout(resolve, 3000 - (idle.closedAfter() as number)));
      socket.resume();
      await waitFor("the whole answer", () => received > bytes || closed, 15_000);
      assert.ok(
        received > bytes,
        `got ${received} of ${bytes} bytes${closed ? ", then the connection closed" : ""}`,
      );
      socket.destroy();
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "without --allow-ffi, Deno's master warns once that the timeouts cannot be enforced, and that workers inherit its sockets",
    { ...T, skip: RUNTIME !== "deno" && "Deno permissions only exist on Deno" },
    async () => {
      const port = await freePort();
      const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/pid.ts"], {
        denoFlags: [...DENO_WITHOUT_FFI],
      });
      await c.ready();
      const warnings = c.stderr.match(
        /--keep-alive, --header-timeout, --body-timeout cannot be enforced: .*/g,
      );
      assert.deepEqual(warnings?.length, 1, c.stderr);
      assert.match(warnings?.[0] ?? "", /--allow-ffi is not granted/);
      // Nor can it keep its own unix sockets from the workers (runtime/_close_on_exec.ts).
      assert.match(c.stderr, /Workers inherit the master's unix sockets: --allow-ffi is not granted/);
      c.kill("SIGTERM");
      await c.exit();
    },
  );
});
