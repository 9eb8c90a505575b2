/**
 * The benchmark's baseline on Deno: an app served by a plain `Deno.serve`,
 * one process, no corral; examples/hello.ts unless a module is given.
 * scripts/bench/main.ts compares `corral -w 1` against it.
 *
 * `deno run --allow-net --allow-read examples/bare_deno.ts 8000 [APP_MODULE]`
 * @module
 */
import { toFileUrl } from "./_app_url.ts";

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  const module = Deno.args[1];
  // The same handler object corral loads, so both send the identical response.
  const app = (await import(module ? toFileUrl(module, Deno.cwd()) : "./hello.ts")).default;
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, app.fetch);
}
