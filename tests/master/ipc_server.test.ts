/**
 * The master's end of the workers' channel: every line a worker sent before
 * it died reaches the master before `ended` tells its exit may be judged.
 * The real master learns of a worker's exit and of its last message as two
 * events, in either order (tests/integration/bad_input.test.ts forces it).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpcServer } from "../../lib/master/ipc_server.ts";
import type { WorkerMessage } from "../../lib/ipc.ts";
import { waitFor } from "../_helpers/corral.ts";

const T = { timeout: 10_000 };
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An IpcServer in a fresh folder, and what it handed on, in order ("exit N" for an `ended` that resolved). */
async function server(): Promise<{ ipc: IpcServer; seen: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "corral-ipc-test-"));
  dirs.push(dir);
  const seen: string[] = [];
  const ipc = await IpcServer.open(dir, (m: WorkerMessage) => seen.push(`${m.type} ${m.pid}`));
  return { ipc, seen };
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path, () => resolve(socket));
    socket.once("error", reject);
  });
}

const line = (message: object) => JSON.stringify(message) + "\n";

describe("IpcServer: a worker's exit comes after its messages", () => {
  test("a worker that says ready and dies at once: ready first", T, async () => {
    const { ipc, seen } = await server();
    try {
      const socket = await connect(ipc.path);
      socket.write(line({ type: "hello", pid: 101 }));
      socket.write(line({ type: "retire", pid: 101, requests: 1 }));
      await waitFor("the first message", () => seen.length === 1);
      // Its last words and its death: the exit is known before the master has read them.
      socket.end(line({ type: "ready", pid: 101 }));
      await ipc.ended(101).then(() => seen.push("exit 101"));
      assert.deepEqual(seen, ["retire 101", "ready 101", "exit 101"]);
    } finally {
      ipc.close();
    }
  });

  test("a worker not accepted yet when its exit is known: its hello is waited for", T, async () => {
    const { ipc, seen } = await server();
    try {
      const socket = createConnection(ipc.path);
      socket.on("error", () => {});
      socket.end(
        line({ type: "hello", pid: 102 }) + line({ type: "boot_error", pid: 102, code: 4, message: "m" }),
      );
      await ipc.ended(102).then(() => seen.push("exit 102"));
      assert.deepEqual(seen, ["boot_error 102", "exit 102"]);
    } finally {
      ipc.close();
    }
  });

  test("the hello goes no further; a worker's two connections both count", T, async () => {
    const { ipc, seen } = await server();
    try {
      const main = await connect(ipc.path);
      const thread = await connect(ipc.path);
      main.write(line({ type: "hello", pid: 103 }));
      thread.write(line({ type: "hello", pid: 103 }));
      main.write(line({ type: "retire", pid: 103, requests: 1 }));
      await waitFor("the message", () => seen.length === 1);
      let ended = false;
      const done = ipc.ended(103, 250, 5000).then(() => ended = true);
      main.end();
      await waitFor("the main connection to close", () => main.closed);
      thread.write(line({ type: "heartbeat", pid: 103 }));
      await waitFor("the heartbeat", () => seen.length === 2);
      assert.equal(ended, false, "one connection of the pid is still open");
      thread.end(line({ type: "heartbeat", pid: 103 }));
      await done;
      assert.deepEqual(seen, ["retire 103", "heartbeat 103", "heartbeat 103"]);
    } finally {
      ipc.close();
    }
  });

  test("a pid never heard from is waited for briefly, not for the whole bound", T, async () => {
    const { ipc } = await server();
    try {
      const t0 = Date.now();
      await ipc.ended(104, 100, 5000);
      const ms = Date.now() - t0;
      assert.ok(ms >= 90 && ms < 2000, `${ms} ms`);
    } finally {
      ipc.close();
    }
  });

  test(
    "a connection held open past the bound does not hold the exit; closing ends every wait",
    T,
    async () => {
      const { ipc, seen } = await server();
      const socket = await connect(ipc.path);
      socket.write(line({ type: "hello", pid: 105 }) + line({ type: "retire", pid: 105, requests: 1 }));
      await waitFor("its message", () => seen.length === 1);
      const t0 = Date.now();
      await ipc.ended(105, 100, 300);
      assert.ok(Date.now() - t0 >= 290, "waited for the bound");
      const waiting = ipc.ended(105, 100, 60_000);
      ipc.close();
      await waiting;
      socket.destroy();
    },
  );
});
