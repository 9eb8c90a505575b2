/** Finding a process's own listening sockets, for detaching them (lib/runtime/_sockets.ts). Linux. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { listeningFds, listeningInodes } from "../../lib/runtime/_sockets.ts";
import { RUNTIME } from "../_helpers/corral.ts";

const LINUX = { skip: process.platform !== "linux" ? "needs Linux's /proc" : false };

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
