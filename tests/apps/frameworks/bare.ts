/**
 * Serves a framework sample app with the bare runtime's own server, the way
 * the runtime serves a module's default export (`Bun.serve(export)`,
 * `deno serve`): `bare.ts MODULE PORT`. Prints "listening" when it does.
 */
import process from "node:process";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [module, port] = process.argv.slice(2);
const app = (await import(pathToFileURL(resolve(module as string)).href)).default;
const hostname = "127.0.0.1";

if ("Bun" in globalThis) {
  // The keys Bun.serve takes from an export, read as Bun reads them.
  const keys = ["fetch", "websocket", "routes", "static", "error"];
  const options = Object.fromEntries(keys.filter((k) => app[k] !== undefined).map((k) => [k, app[k]]));
  const bun = (globalThis as unknown as { Bun: { serve(options: object): unknown } }).Bun;
  bun.serve({ ...options, hostname, port: Number(port), development: false });
} else {
  Deno.serve({ hostname, port: Number(port), onListen() {} }, (request, info) => app.fetch(request, info));
}
console.log("listening");
