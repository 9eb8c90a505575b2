/**
 * The benchmark's baseline on Deno: examples/hello.ts served by a plain
 * `Deno.serve`, one process, no corral. scripts/bench/main.ts compares
 * `corral -w 1` against it.
 *
 * `deno run --allow-net examples/bare_deno.ts 8000`
 * @module
 */
import hello from "./hello.ts";

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  // The same handler object corral loads, so both send the identical response.
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, hello.fetch);
}
