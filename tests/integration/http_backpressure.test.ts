/** Timeouts, concurrency, keep-alive and slow clients against the real CLI, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { connect, type Socket } from "node:net";
import { IS_BUN, RUNTIME, startOnFreePort, stopAll, waitFor } from "../_helpers/corral.ts";
import { get, sendingAll } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 40_000 };

const start = (args: string[]) => startOnFreePort(args);

/** An open connection that records what it receives and when it is closed. */
function open(port: number): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let data = "";
    let closed = false;
    const socket = connect(
      port,
      "127.0.0.1",
      () => resolve({ socket, received: () => data, closed: () => closed }),
    );
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => data += d);
    socket.on("close", () => closed = true);
    socket.on("error", reject);
  });
}

describe(`request timeout and concurrency (${RUNTIME})`, () => {
  test(
    "--request-timeout: a slow handler gets 503 and is logged; a fast one is served",
    T,
    async () => {
      const { c, port } = await start(["--request-timeout", "0.5"]);
      const t0 = Date.now();
      const reply = await get(`http://127.0.0.1:${port}/slow?ms=10000`);
      assert.equal(reply.status, 503);
      assert.ok(Date.now() - t0 < 3000, `answered after ${Date.now() - t0} ms`);
      await c.waitForLog(/\[ERROR\] Request timed out after 0\.5 s: GET \/slow\?ms=10000/);
      assert.equal((await get(`http://127.0.0.1:${port}/slow?ms=10`)).status, 200);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test(
    "--max-concurrency: past N in flight, 503 with Retry-After at once; served again once they finish",
    T,
    async () => {
      const { c, port } = await start(["--max-concurrency", "2"]);
      const held = [
        get(`http://127.0.0.1:${port}/slow?ms=2500`),
        get(`http://127.0.0.1:${port}/slow?ms=2500`),
      ];
      // The third request is refused once both are in flight: poll until it is.
      let refused;
      await waitFor("a 503", async () => {
        const t0 = Date.now();
        refused = await get(`http://127.0.0.1:${port}/`);
        assert.ok(Date.now() - t0 < 1000, "refused at once, not queued");
        return refused.status === 503;
      }, 2000);
      assert.equal(refused!.headers["retry-after"], "1");
      assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200]);
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );
});

describe(`connections (${RUNTIME})`, () => {
  test("1,000 idle connections and a slowloris client do not stop new requests", T, async () => {
    const { c, port } = await start(["--graceful-timeout", "3"]);
    const idle: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 1000; i++) idle.push(await open(port));
    const slow = await open(port);
    slow.socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => slow.socket.write("X-Drip: 1\r\n"), 100);
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = Date.now();
        assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
        assert.ok(Date.now() - t0 < 1000, `request ${i} took ${Date.now() - t0} ms`);
      }
    } finally {
      clearInterval(drip);
      for (const conn of [...idle, slow]) conn.socket.destroy();
    }
    await waitFor("the client sockets to close", () => [...idle, slow].every((conn) => conn.closed()), 5000);
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test(
    "--keep-alive 0: every response says Connection: close (and Bun closes the connection)",
    T,
    async () => {
      const { c, port } = await start(["--keep-alive", "0"]);
      const conn = await open(port);
      conn.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await waitFor("the response", () => conn.received().includes("\r\n\r\nok"), 5000);
      assert.match(conn.received(), /^HTTP\/1\.1 200/);
      assert.match(conn.received(), /\r\nconnection: close\r\n/i);
      // Deno 2.9 sends the header but leaves closing to the client, as HTTP/1.1 clients do.
      if (IS_BUN) await waitFor("the server to close", () => conn.closed(), 5000);
      conn.socket.destroy();
      // A client still uploading a body the app does not read gets the answer.
      const head = `POST /slow?ms=0 HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 0x10000}\r\n\r\n`;
      const reply = await sendingAll(port, head, "z".repeat(0x10000), 1024);
      assert.match(reply, /^HTTP\/1\.1 200/, JSON.stringify(reply.slice(0, 80)));
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "--keep-alive N: idle connections (used or never) are closed after about N s; a slower request is not cut",
    { ...T, skip: process.platform === "linux" ? false : "enforced through Linux's /proc and TCP_INFO" },
    async () => {
      const { c, port } = await start(["--keep-alive", "1"]);
      const used = await open(port);
      const never = await open(port);
      const slow = await open(port);
      used.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      // A keep-alive connection whose second request takes longer than --keep-alive.
      slow.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await waitFor(
        "the first responses",
        () => used.received().includes("\r\n\r\nok") && slow.received().includes("\r\n\r\nok"),
        5000,
      );
      slow.socket.write("GET /slow?ms=2500 HTTP/1.1\r\nHost: x\r\n\r\n");
      const t0 = Date.now();
      assert.ok(!used.closed() && !never.closed(), "kept alive at first");
      await waitFor("the idle connections to be closed", () => used.closed() && never.closed(), 5000);
      assert.ok(Date.now() - t0 >= 700, `closed after ${Date.now() - t0} ms`);
      await waitFor("the slow answer", () => slow.received().includes("slept 2500"), 6000);
      slow.socket.destroy();
      c.kill("SIGTERM");
      await c.exit();
    },
  );
});
