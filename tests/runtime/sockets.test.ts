/** Finding a process's own listening sockets, for detaching them (lib/runtime/_sockets.ts). Linux. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { hasUnreadInput, isIdle, listeningFds, listeningInodes } from "../../lib/runtime/_sockets.ts";
import { RUNTIME, waitFor } from "../_helpers/corral.ts";

const LINUX = { skip: process.platform !== "linux" ? "needs Linux's /proc" : false };

describe("idle connections (--keep-alive)", () => {
  const quiet = (sentMs: number, receivedMs: number, everSent = true, everReceived = true) => ({
    sentMs,
    receivedMs,
    everSent,
    everReceived,
  });

  test("waiting for the client since the last answer: idle once that is old enough", () => {
    assert.equal(isIdle(quiet(1200, 1210), 1000, false), true);
    assert.equal(isIdle(quiet(900, 910), 1000, false), false);
  });

  test("a request received after the last answer is in progress: never idle", () => {
    assert.equal(isIdle(quiet(5000, 4000), 1000, false), false);
    assert.equal(
      isIdle(quiet(5000, 5000, false, true), 1000, false),
      false,
      "its first request, nothing sent yet",
    );
  });

  test("a connection that never sent anything is idle from the start", () => {
    assert.equal(isIdle(quiet(1500, 1500, false, false), 1000, true), true);
  });

  test("a tie of the kernel's clock is idle only with nothing in flight", () => {
    assert.equal(isIdle(quiet(1500, 1500), 1000, false), true);
    assert.equal(isIdle(quiet(1500, 1500), 1000, true), false);
  });
});

describe(`detaching listeners (${RUNTIME})`, () => {
  test("only sockets in LISTEN state on the port are picked out of /proc/net/tcp", () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-detach-"));
    try {
      const table = join(dir, "tcp");
      writeFileSync(
        table,
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
          // 127.0.0.1:8000 listening, inode 111
          "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n" +
          // a connection to port 8000 (established): not a listener
          "   1: 0100007F:1F40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 222 1\n" +
          // another port listening
          "   2: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1\n",
      );
      assert.deepEqual([...listeningInodes(8000, [table, join(dir, "missing")])], ["111"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("this process's listener on a port is found, and nothing once it is closed", LINUX, async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      assert.equal(listeningFds(port).length, 1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.deepEqual(listeningFds(port), []);
  });
});

describe("unread input (a draining worker's last check)", () => {
  test("a connection of ours with bytes we have not read is seen; once read, it is not", {
    ...LINUX,
    timeout: 10_000,
  }, async () => {
    const { connect } = await import("node:net");
    const accepted: import("node:net").Socket[] = [];
    const server = createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const client = connect(port, "127.0.0.1");
    try {
      await new Promise<void>((r) => client.once("connect", () => r()));
      assert.equal(hasUnreadInput(port), false, "connected, nothing sent");
      client.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
      await waitFor("the kernel to queue the bytes", () => hasUnreadInput(port), 5000);
      const [socket] = accepted;
      const read = new Promise<void>((r) => socket?.once("data", () => r()));
      socket?.resume();
      await read;
      await waitFor("the queue to empty once read", () => !hasUnreadInput(port), 5000);
      assert.equal(hasUnreadInput(port + 1 === 65536 ? 1 : port + 1), false, "another port");
    } finally {
      client.destroy();
      for (const s of accepted) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
