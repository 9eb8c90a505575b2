/// <reference path="../lib/runtime/_bun.d.ts" />
/**
 * The benchmark's baseline on Bun: examples/hello.ts served by a plain
 * `Bun.serve`, one process, no corral. scripts/bench/main.ts compares
 * `corral -w 1` against it.
 *
 * `bun examples/bare_bun.ts 8000`
 * @module
 */
import process from "node:process";
import hello from "./hello.ts";

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 8000);
  // development: false as corral sets it, so both take the production path.
  Bun.serve({ hostname: "127.0.0.1", port, development: false, fetch: hello.fetch });
}
