/**
 * A Deno worker runs none of Deno's Node layer: importing a `node:` module,
 * an npm package, the `process` global or Deno 2.9's setTimeout and
 * setInterval (its Node timers) would load it, and cost memory in every
 * worker (issue #17). Checked on a real worker: V8's `--perf-basic-prof`
 * names in /tmp/perf-PID.map every function it compiles, so the map of a
 * worker that has served requests, ticked its watchdog and looked at its
 * connections must name none of `ext:deno_node`. Its stop may: it runs once.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Corral, freePort, FRONT_APP, IS_BUN, stopAll, waitFor } from "../_helpers/corral.ts";

after(stopAll);

const SKIP = IS_BUN && "Deno's Node layer is Deno's: nothing to check on Bun";

/**
 * Serves `app` with `args`, waits for `served` besides the tick and a look;
 * returns the functions of the Node layer the worker compiled.
 */
async function nodeLayerOfWorker(
  args: string[],
  app = "examples/hello.ts",
  served: () => boolean = () => true,
): Promise<string[]> {
  const port = await freePort();
  const c = new Corral(["-w", "1", "-b", `127.0.0.1:${port}`, ...args, app], {
    denoFlags: ["-A", "--v8-flags=--perf-basic-prof"],
  });
  const maps: string[] = [];
  try {
    await c.ready();
    const [pid] = c.workerPids();
    maps.push(`/tmp/perf-${c.pid}.map`, `/tmp/perf-${pid}.map`);
    const map = () => readFileSync(`/tmp/perf-${pid}.map`, "utf8");
    for (let i = 0; i < 50; i++) await (await fetch(`http://127.0.0.1:${port}/`)).text();
    // The watchdog's tick (every 250 ms) and the connection watcher's look (every 500 ms at
    // --keep-alive 2) have run once their functions are in the map.
    await waitFor("the worker's tick and look in its perf map, and what the test waits for", () => {
      const text = map();
      return text.includes("tick file://") && text.includes("look file://") && served();
    });
    for (let i = 0; i < 50; i++) await (await fetch(`http://127.0.0.1:${port}/`)).text();
    // The master runs the layer (node:util's parseArgs, LogTape from npm): the check can see it.
    assert.match(readFileSync(`/tmp/perf-${c.pid}.map`, "utf8"), /ext:deno_node/);
    return map().split("\n").filter((line) => line.includes("ext:deno_node"));
  } finally {
    c.kill("SIGTERM");
    await c.exit();
    for (const path of maps) rmSync(path, { force: true });
  }
}

describe("Deno's Node layer", () => {
  test("a Deno worker serving at the defaults compiles none of it", { skip: SKIP }, async () => {
    const node = await nodeLayerOfWorker([]);
    assert.deepEqual(node.slice(0, 10), [], `${node.length} functions of the Node layer, first 10 shown`);
  });

  test("nor with the access log and --request-timeout, whose timers run too", { skip: SKIP }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-node-layer-"));
    const log = join(dir, "access.log");
    try {
      const flushed = () => {
        try {
          return readFileSync(log, "utf8").split("\n").length > 50;
        } catch {
          return false;
        }
      };
      // The front's app answers asynchronously: --request-timeout arms its timer.
      const node = await nodeLayerOfWorker(
        ["--access-logfile", log, "--request-timeout", "5"],
        FRONT_APP,
        flushed,
      );
      assert.deepEqual(node.slice(0, 10), [], `${node.length} functions of the Node layer, first 10 shown`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
