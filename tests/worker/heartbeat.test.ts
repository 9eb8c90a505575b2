/** The heartbeat thread, started for real: where its module is, and what happens when it cannot beat. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Heartbeat, WorkerMessage } from "../../lib/ipc.ts";
import { IpcServer } from "../../lib/master/ipc_server.ts";
import { type Heartbeats, startHeartbeat, threadUrl } from "../../lib/worker/heartbeat.ts";
import { Watchdog } from "../../lib/worker/watchdog.ts";
import { ROOT, RUNTIME, waitFor } from "../_helpers/corral.ts";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
/** A private folder for a master's socket, as the master makes one. */
function ipcDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "corral-hb-"));
  dirs.push(dir);
  return dir;
}

const dir = mkdtempSync(join(tmpdir(), "corral-heartbeat-test-"));
const started: Heartbeats[] = [];
after(() => {
  for (const h of started) h.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts heartbeats that the test collects when they come from the main loop. */
function start(ipcPath: string, url?: string) {
  const sent: Heartbeat[] = [];
  const watchdog = new Watchdog();
  watchdog.begin(new Request("http://h/slow"), performance.now());
  const heartbeats = startHeartbeat({
    watchdog,
    ipcPath,
    pid: 4242,
    intervalMs: 50,
    send: (m) => sent.push(m),
    ...(url ? { url } : {}),
  });
  started.push(heartbeats);
  return { heartbeats, sent };
}

describe(`heartbeat (${RUNTIME})`, () => {
  test("the thread module is found from source, from a URL, and inside a Bun single binary", () => {
    const source = pathToFileURL(join(ROOT, "lib", "worker", "heartbeat.ts")).href;
    assert.equal(
      threadUrl("heartbeat_thread.ts", source),
      pathToFileURL(join(ROOT, "lib", "worker", "heartbeat_thread.ts")).href,
    );
    assert.equal(
      threadUrl("heartbeat_thread.ts", "http://127.0.0.1:8000/corral/lib/worker/heartbeat.ts"),
      "http://127.0.0.1:8000/corral/lib/worker/heartbeat_thread.ts",
    );
    // `bun build --compile --root ROOT`: every module's import.meta.url is the binary's.
    assert.equal(
      threadUrl("heartbeat_thread.ts", "file:///$bunfs/root/corral"),
      "file:///$bunfs/root/lib/worker/heartbeat_thread.ts",
    );
    assert.equal(threadUrl("heartbeat_thread.ts"), threadUrl("heartbeat_thread.ts", source));
  });

  test(
    "the thread reports to the master's socket, with the request in flight",
    { timeout: 20_000 },
    async () => {
      const messages: WorkerMessage[] = [];
      const server = await IpcServer.open(ipcDir(), (m: WorkerMessage) => messages.push(m));
      try {
        const { heartbeats, sent } = start(server.path);
        await waitFor("a heartbeat on the socket", () => messages.length > 0, 15_000);
        const beat = messages[0] as Heartbeat;
        assert.equal(beat.type, "heartbeat");
        assert.equal(beat.pid, 4242);
        assert.deepEqual(beat.inFlight.map((r) => r.request), ["GET http://h/slow"]);
        assert.ok(beat.rss > 0);
        assert.equal(heartbeats.source, "thread");
        assert.deepEqual(sent, [], "the main loop sends nothing while the thread beats");
        heartbeats.stop();
      } finally {
        server.close();
      }
    },
  );

  test("the thread beats while the main loop is blocked from the moment it was started", {
    timeout: 20_000,
  }, async () => {
    const messages: Heartbeat[] = [];
    const server = await IpcServer.open(
      ipcDir(),
      (m: WorkerMessage) => m.type === "heartbeat" && messages.push(m),
    );
    try {
      // Once first: under `deno test` a thread's first start type-checks its module, seconds on a busy machine.
      const warm = start(server.path);
      await waitFor("a first heartbeat", () => messages.length > 0, 15_000);
      warm.heartbeats.stop();
      messages.length = 0;
      const { heartbeats } = start(server.path);
      // Blocked at once (a hang right after boot): the thread must need nothing more from this loop.
      const BLOCK_MS = 3000;
      const end = Date.now() + BLOCK_MS;
      while (Date.now() < end) { /* stuck */ }
      await waitFor("a heartbeat", () => messages.length > 0, 10_000);
      // The watchdog is never ticked here: a beat's lag is its age since start().
      assert.ok(
        messages.some((m) => m.loopLagMs < BLOCK_MS),
        `no heartbeat was sent while the loop was blocked: ${messages.map((m) => m.loopLagMs).join(", ")}`,
      );
      heartbeats.stop();
    } finally {
      server.close();
    }
  });

  test("a thread module that cannot load: the failure is told, and the main loop beats instead", {
    timeout: 20_000,
  }, async () => {
    const missing = pathToFileURL(join(dir, "no_such_thread.ts")).href;
    const { heartbeats, sent } = start(join(dir, "unused.sock"), missing);
    // Bun names the module; under `deno test` the message is that its type check failed.
    assert.match(await heartbeats.fellBack, /no_such_thread\.ts|Type checking failed/);
    assert.equal(heartbeats.source, "main loop");
    await waitFor("two heartbeats from the main loop", () => sent.length >= 2, 5000);
    assert.equal(sent[0]?.pid, 4242);
    assert.deepEqual(sent[0]?.inFlight.map((r) => r.request), ["GET http://h/slow"]);
    heartbeats.stop();
  });

  test("a thread that cannot reach the master: the failure is told, and the main loop beats instead", {
    timeout: 20_000,
  }, async () => {
    const { heartbeats, sent } = start(join(dir, "nobody-listens.sock"));
    const why = await heartbeats.fellBack;
    assert.match(why, /^cannot reach the master: /);
    await waitFor("a heartbeat from the main loop", () => sent.length >= 1, 5000);
    heartbeats.stop();
  });
});
