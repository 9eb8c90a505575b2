/** The unix socket relay against stand-in workers: which worker each new connection reaches, and when. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnixRelay } from "../../lib/master/unix_relay.ts";
import { waitFor } from "../_helpers/corral.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-relay-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let relays = 0;

/** A stand-in worker: greets each connection with its name, then echoes; counts what it accepted. */
class FakeWorker {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  constructor(readonly name: string, path: string) {
    this.server = createServer((socket) => {
      this.sockets.push(socket);
      socket.on("error", () => {});
      socket.write(`${name}\n`);
      socket.pipe(socket);
    });
    this.server.listen(path);
  }
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** A client of the relay; `greeting` resolves with the first line it reads (the worker's name). */
function client(path: string): { socket: Socket; greeting: Promise<string> } {
  const socket = createConnection(path);
  socket.setEncoding("utf8");
  socket.on("error", () => {});
  const greeting = new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (d: string) => {
      text += d;
      if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
    });
  });
  return { socket, greeting };
}

/** A relay on a fresh path, with `n` stand-in workers listening (not yet serving). */
async function setUp(n: number) {
  const name = String(++relays);
  const path = join(dir, `public-${name}.sock`);
  const relay = await UnixRelay.open({ transport: "unix", path }, dir, name);
  const paths = Array.from({ length: n }, (_, i) => relay.workerAddress(i + 1).path);
  const workers = paths.map((p, i) => new FakeWorker(String.fromCharCode(65 + i), p));
  const clients: Socket[] = [];
  const connect = () => {
    const c = client(path);
    clients.push(c.socket);
    return c;
  };
  const tearDown = () => {
    for (const c of clients) c.destroy();
    relay.destroy();
    for (const w of workers) w.close();
  };
  return { relay, workers, paths, connect, tearDown };
}

/** Whether a connection to `path` is refused (or the path is gone). */
function refused(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

describe("the unix socket relay", () => {
  test("a client that comes before any worker serves waits, then reaches the first that does", async () => {
    const { relay, workers, connect, tearDown } = await setUp(2);
    try {
      const { greeting } = connect();
      // Absence can only be waited for: long enough for the relay to have accepted the client.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(workers[0]?.sockets.length, 0, "no connection to a worker not yet ready");
      relay.serving(2);
      assert.equal(await greeting, "B");
    } finally {
      tearDown();
    }
  });

  test("each new connection goes to the least busy serving worker; ties take turns", async () => {
    const { relay, connect, tearDown } = await setUp(2);
    try {
      relay.serving(1);
      relay.serving(2);
      const opened = [];
      for (let i = 0; i < 4; i++) {
        const c = connect();
        opened.push({ socket: c.socket, name: await c.greeting });
      }
      assert.deepEqual(opened.map((c) => c.name).sort(), ["A", "A", "B", "B"]);
      // One of A's clients leaves: A is now the least busy.
      const leaving = opened.find((c) => c.name === "A");
      const closed = new Promise((r) => leaving?.socket.once("close", r));
      leaving?.socket.destroy();
      await closed;
      await waitFor("the relay to count it gone", async () => (await connect().greeting) === "A", 5000);
    } finally {
      tearDown();
    }
  });

  test("a stopping worker gets no new connection, and its open ones go on", async () => {
    const { relay, workers, connect, tearDown } = await setUp(2);
    try {
      relay.serving(1);
      const held = connect();
      assert.equal(await held.greeting, "A");
      relay.serving(2);
      relay.stopping(1);
      for (let i = 0; i < 5; i++) assert.equal(await connect().greeting, "B");
      const echoed = new Promise<string>((resolve) => held.socket.once("data", resolve));
      held.socket.write("still here\n");
      assert.equal(await echoed, "still here\n");
      assert.equal(workers[0]?.sockets.length, 1);
    } finally {
      tearDown();
    }
  });

  test("a worker whose socket refuses is passed over, and gets no more connections", async () => {
    const { relay, workers, paths, connect, tearDown } = await setUp(2);
    try {
      workers[0]?.close();
      await waitFor("A to refuse", () => refused(paths[0] as string));
      relay.serving(1);
      relay.serving(2);
      for (let i = 0; i < 4; i++) assert.equal(await connect().greeting, "B");
    } finally {
      tearDown();
    }
  });

  test("a worker that exited has its socket file removed", async () => {
    const { relay, workers, paths, tearDown } = await setUp(1);
    try {
      await waitFor("the worker's socket", () => existsSync(paths[0] as string));
      workers[0]?.server.close();
      relay.exited(1);
      assert.ok(!existsSync(paths[0] as string));
    } finally {
      tearDown();
    }
  });
});
