/** Finding a process's own listening sockets, for detaching them (lib/runtime/_sockets.ts). Linux. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import process from "node:process";
import { hasPendingInput, listeningFds } from "../../lib/runtime/_sockets.ts";
import type { LibcCalls } from "../../lib/runtime/_libc.ts";
import { RUNTIME, waitFor } from "../_helpers/corral.ts";

const LINUX = { skip: process.platform !== "linux" ? "needs Linux's /proc" : false };

/** libc as the runtime seam opens it. */
async function libc(): Promise<LibcCalls> {
  const { openLibc } = "Bun" in globalThis
    ? await import("../../lib/runtime/datagram_bun.ts")
    : await import("../../lib/runtime/datagram_deno.ts");
  return openLibc();
}

describe(`detaching listeners (${RUNTIME})`, () => {
  test("this process's listener on a port is found, and nothing once it is closed", LINUX, async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const calls = await libc();
      assert.equal(listeningFds(calls, port).length, 1);
      const client = (await import("node:net")).connect(port, "127.0.0.1");
      await new Promise((r) => client.once("connect", r));
      assert.equal(listeningFds(calls, port).length, 1, "its accepted connection is no listener");
      client.destroy();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.deepEqual(listeningFds(await libc(), port), []);
  });
});

describe("input on its way (a draining worker's last check)", () => {
  test("a fresh connection that has sent nothing is, for a second; bytes we have not read are, until read", {
    ...LINUX,
    timeout: 10_000,
  }, async () => {
    const { connect } = await import("node:net");
    const accepted: import("node:net").Socket[] = [];
    const server = createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const client = connect(port, "127.0.0.1");
    const calls = await libc();
    const unread = (p: number) => hasPendingInput(calls, p);
    try {
      await new Promise<void>((r) => client.once("connect", () => r()));
      assert.equal(unread(port), true, "just connected: its first request is on its way");
      await waitFor("the fresh connection to count as idle", () => !unread(port), 5000);
      client.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
      await waitFor("the kernel to queue the bytes", () => unread(port), 5000);
      const [socket] = accepted;
      const read = new Promise<void>((r) => socket?.once("data", () => r()));
      socket?.resume();
      await read;
      await waitFor("the queue to empty once read", () => !unread(port), 5000);
      assert.equal(unread(port + 1 === 65536 ? 1 : port + 1), false, "another port");
    } finally {
      client.destroy();
      for (const s of accepted) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
