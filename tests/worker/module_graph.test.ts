/** What a worker process loads: its own side only (memory per worker, issue #17). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { staticGraph } from "../_helpers/module_graph.ts";

describe("a worker's module graph", () => {
  test("a worker started from cli.ts or mod.ts loads none of the master's modules nor the settings table", () => {
    for (const entry of ["cli.ts", "mod.ts"]) {
      // cli.ts and mod.ts run lib/worker/main.ts in a worker: their static graph and its own.
      const { files } = staticGraph([entry, "lib/worker/main.ts"]);
      const master = files.filter((f) =>
        f.startsWith("lib/master/") || /^lib\/config\/(config|config_file|settings|flags)\.ts$/.test(f) ||
        f.startsWith("lib/config/settings/")
      );
      assert.deepEqual(master, [], `${entry}: a worker loads these`);
    }
  });

  test("a worker on Deno imports no node: module and no npm package (Deno's Node layer: 6 MiB a worker)", () => {
    // The Deno side of the seam, which lib/runtime/mod.ts imports when on Deno (Bun's is bun.ts).
    const seam = ["lib/runtime/deno.ts"];
    for (const entry of ["cli.ts", "lib/worker/main.ts"]) {
      const { external } = staticGraph([entry, "lib/worker/main.ts", ...seam]);
      assert.deepEqual(external, [], `${entry}: a Deno worker imports these`);
    }
  });
});
