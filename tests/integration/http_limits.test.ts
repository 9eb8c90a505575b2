/** Request limits and malformed requests against the real CLI, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { RUNTIME, startOnFreePort, stopAll } from "../_helpers/corral.ts";
import { get, sendingAll } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 30_000 };

/** Sends raw bytes on a fresh connection; resolves with all it gets back until the server closes or 3 s pass. */
function raw(port: number, data: string | Uint8Array, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    const done = () => {
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, ms);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => out += d);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      done();
    });
    socket.write(data);
  });
}

/** Resident memory of a process, in KiB, from /proc. */
function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

function statusOf(reply: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0);
}

const start = (args: string[]) => startOnFreePort(args);

describe(`request limits (${RUNTIME})`, () => {
  test(
    "defaults: a line over 4094 bytes is 414; header fields are bounded by the runtime's caps; Gunicorn's field limits are a flag each",
    T,
    async () => {
      const line = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
      const fields = (n: number) =>
        `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${
          Array.from({ length: n }, (_, i) => `X-F${i}: 1\r\n`).join("")
        }\r\n`;
      const field = (n: number) =>
        `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"v".repeat(n)}\r\n\r\n`;
      const defaults = await start([]);
      assert.equal(statusOf(await raw(defaults.port, line("/" + "a".repeat(4094 - 14)))), 200);
      assert.equal(statusOf(await raw(defaults.port, line("/" + "a".repeat(4094 - 13)))), 414);
      // The runtime's caps: Deno 128 lines, Bun about 200, in a head of 64 KiB (Deno) or 16 KiB (Bun).
      assert.equal(statusOf(await raw(defaults.port, fields(99))), 200, "101 fields pass the runtime");
      assert.equal(statusOf(await raw(defaults.port, field(9000))), 200, "a 9,000-byte field passes it");
      assert.ok([400, 431].includes(statusOf(await raw(defaults.port, fields(250)))), "250 fields do not");
      assert.ok([400, 431].includes(statusOf(await raw(defaults.port, field(70_000)))), "nor a 70 kB field");
      defaults.c.kill("SIGTERM");
      assert.equal((await defaults.c.exit()).code, 0);

      const { c, port } = await start([
        "--limit-request-fields",
        "100",
        "--limit-request-field-size",
        "8190",
      ]);
      assert.equal(statusOf(await raw(port, fields(98))), 200, "100 fields with Host and Connection");
      assert.equal(statusOf(await raw(port, fields(99))), 431);
      assert.equal(statusOf(await raw(port, field(8190 - 7))), 200);
      assert.equal(statusOf(await raw(port, field(8190 - 6))), 431);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test(
    "limits are settings: raised, the same requests pass; 0 leaves the runtime's own caps",
    T,
    async () => {
      const { c, port } = await start(["--limit-request-line", "0", "--limit-request-field-size", "12000"]);
      const long = await raw(
        port,
        `GET /${"a".repeat(8000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(statusOf(long), 200);
      const big = await raw(
        port,
        `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"v".repeat(11000)}\r\n\r\n`,
      );
      assert.equal(statusOf(big), 200);
      // Past the runtime's own head size (Bun 16 KiB, Deno 64 KiB) the runtime refuses it: 431 or 400.
      const huge = await raw(
        port,
        `GET /${"a".repeat(70_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      assert.ok([400, 431].includes(statusOf(huge)), huge.slice(0, 80));
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "--limit-request-body: 413 for a Content-Length over it, and for a chunked body once it passes it",
    T,
    async () => {
      const { c, port } = await start(["--limit-request-body", "1k"]);
      const post = (body: string, chunked: boolean) =>
        raw(
          port,
          chunked
            ? `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n` +
              body.match(/.{1,300}/gs)!.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("") +
              "0\r\n\r\n"
            : `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      assert.match(await post("x".repeat(1024), false), /read 1024/);
      assert.equal(statusOf(await post("x".repeat(1025), false)), 413);
      assert.match(await post("x".repeat(1024), true), /read 1024/);
      assert.equal(statusOf(await post("x".repeat(1500), true)), 413);
      assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "a refused request whose client goes on sending still gets its answer, and its body is not kept",
    T,
    async () => {
      const { c, port } = await start(["--limit-request-body", "64k", "--limit-request-field-size", "8190"]);
      const [worker] = c.workerPids();
      const rssBefore = rssKiB(worker as number);
      // 64 MiB offered in 64 KiB pieces; the server answers long before.
      const chunked = `10000\r\n${"z".repeat(0x10000)}\r\n`;
      const plain = "z".repeat(0x10000);
      const declared = `Content-Length: ${1024 * 0x10000}\r\n`;
      const cases: [string, string, string, number][] = [
        ["a chunked body past the limit", "Transfer-Encoding: chunked\r\n", chunked, 413],
        ["a declared body over the limit", declared, plain, 413],
        ["a field over 8190 bytes, with a body", `X-Big: ${"b".repeat(9000)}\r\n${declared}`, plain, 431],
      ];
      for (const [what, head, piece, status] of cases) {
        const reply = await sendingAll(port, `POST /echo HTTP/1.1\r\nHost: x\r\n${head}\r\n`, piece, 1024);
        assert.equal(statusOf(reply), status, `${what}: ${JSON.stringify(reply.slice(0, 80))}`);
      }
      // Read and dropped, or not read at all: never held.
      assert.ok(rssKiB(worker as number) < rssBefore + 32 * 1024, "the worker grew by 32 MiB or more");
      c.kill("SIGTERM");
      await c.exit();
    },
  );
});

describe(`malformed requests (${RUNTIME})`, () => {
  test("what the runtime's parser rejects gets 400 and the worker keeps serving", T, async () => {
    const { c, port } = await start([]);
    const [worker] = c.workerPids();
    const bad = [
      "\x00\x01\x02 garbage\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
      "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ];
    for (const request of bad) assert.equal(statusOf(await raw(port, request)), 400, JSON.stringify(request));
    // A broken chunk size: Bun answers 400, Deno closes the connection; neither takes the worker down.
    const chunk = await raw(
      port,
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    );
    assert.ok(chunk === "" || statusOf(chunk) === 400, chunk.slice(0, 80));
    const ok = await get(`http://127.0.0.1:${port}/`);
    assert.equal(ok.status, 200);
    assert.deepEqual(c.workerPids(), [worker], "no worker was replaced");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});
