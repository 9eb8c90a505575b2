/** The master reading a worker's watchdog from the file the worker maps: no thread, no message. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WatchdogFiles } from "../../lib/master/watchdog_files.ts";
import { runtime } from "../../lib/runtime/mod.ts";
import { BUFFER_BYTES } from "../../lib/watchdog_buffer.ts";
import { Watchdog } from "../../lib/worker/watchdog.ts";
import { RUNTIME } from "../_helpers/corral.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-watchdog-files-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A watchdog written where the master of `dir` reads it, as a worker of age `age` maps it. */
function mapped(files: WatchdogFiles, age: number): { watchdog: Watchdog; path: string } {
  const shared = runtime.sharedMemory();
  assert.ok(shared, "this runtime shares memory on Linux");
  const path = files.pathFor(age);
  const buffer = shared.map(path, BUFFER_BYTES);
  return { watchdog: new Watchdog({ buffer, clockBase: shared.monotonicMs() - performance.now() }), path };
}

describe(`watchdog files (${RUNTIME})`, () => {
  test("the master reads the requests in flight and the loop's lag from the file, with no help from the writer", async () => {
    const files = WatchdogFiles.open(runtime, dir);
    assert.ok(files);
    const { watchdog, path } = mapped(files, 1);
    const startedAt = performance.now() - 2000;
    watchdog.begin(new Request("http://h/spin?ms=9", { method: "POST" }), startedAt);
    const done = watchdog.begin(new Request("http://h/done"), performance.now());
    watchdog.end(done, performance.now(), new Response("ok"));
    watchdog.tick();
    // The writer never ticks again: what follows is what a master sees of a blocked loop.
    await new Promise((r) => setTimeout(r, 300));
    const heartbeat = files.read(4242, path);
    assert.ok(heartbeat);
    assert.equal(heartbeat.pid, 4242);
    assert.equal(heartbeat.requests, 2);
    assert.deepEqual(heartbeat.statusClasses, [0, 1, 0, 0, 0]);
    assert.deepEqual(heartbeat.inFlight.map((r) => r.request), ["POST http://h/spin?ms=9"]);
    const age = heartbeat.inFlight[0]?.ageMs ?? 0;
    assert.ok(age >= 2300 && age < 4000, `age ${age}`);
    assert.ok(heartbeat.loopLagMs >= 300 && heartbeat.loopLagMs < 2000, `lag ${heartbeat.loopLagMs}`);
    assert.ok(heartbeat.rss > 0, "the memory the writer's tick measured");
    watchdog.tick();
    assert.ok((files.read(4242, path)?.loopLagMs ?? Infinity) < 100, "a tick is seen at once");
    files.forget(4242, path);
    assert.equal(existsSync(path), false, "the file of an exited worker is removed");
  });

  test("a file that is missing or short reads as silence, not as a live worker", () => {
    const files = WatchdogFiles.open(runtime, dir);
    assert.ok(files);
    assert.equal(files.read(1, files.pathFor(99)), null);
  });
});
