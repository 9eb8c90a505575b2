/**
 * Bare `Deno.serve` with the peers' app: one process, no corral.
 *
 * `deno run --allow-net scripts/bench/peers/deno_serve.ts 8000`
 * @module
 */
import app from "./app.ts";

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, app.fetch);
}
