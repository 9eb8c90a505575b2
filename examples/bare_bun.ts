/// <reference path="../lib/runtime/_bun.d.ts" />
/**
 * The benchmark's baseline on Bun: an app served by a plain `Bun.serve`,
 * one process, no corral; examples/hello.ts unless a module is given.
 * scripts/bench/main.ts compares `corral -w 1` against it.
 *
 * `bun examples/bare_bun.ts 8000 [APP_MODULE]`
 * @module
 */
import process from "node:process";
import { toFileUrl } from "./_app_url.ts";

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 8000);
  const module = process.argv[3];
  const app = (await import(module ? toFileUrl(module, process.cwd()) : "./hello.ts")).default;
  // development: false as corral sets it, so both take the production path.
  Bun.serve({ hostname: "127.0.0.1", port, development: false, fetch: app.fetch });
}
