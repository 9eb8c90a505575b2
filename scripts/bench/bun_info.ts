/// <reference path="../../lib/runtime/_bun.d.ts" />
/**
 * What Bun's fetch callback costs a request since the app gets Bun's Server
 * (lib/runtime/_bun_server.ts), against the callback before it (a
 * `{ remoteAddr }` object of corral's): both called in a loop with prebuilt
 * requests, medians of 15 runs of 2 million calls. `bun scripts/bench/bun_info.ts`
 * (pin it to a core: `taskset -c 0`). Only under Bun.
 * @module
 */
import { bunFetch, bunInfoClass, type BunServing } from "../../lib/runtime/_bun_server.ts";
import type { Handler, ServeInfo } from "../../lib/runtime/types.ts";

const answer = new Response("x");
let seen = 0;
const app: Handler = (_request, info) => {
  seen += info === null ? 1 : 0;
  return answer;
};

/** The info of the callback before: corral's own object, asking Bun for the peer when read. */
class Before implements ServeInfo {
  readonly #request: Request;
  readonly #server: Bun.Server;
  constructor(request: Request, server: Bun.Server) {
    this.#request = request;
    this.#server = server;
  }
  get remoteAddr(): ServeInfo["remoteAddr"] {
    const ip = this.#server.requestIP(this.#request);
    return ip ? { transport: "tcp", hostname: ip.address, port: ip.port } : { transport: "unix", path: "" };
  }
}

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => answer });
const serving: BunServing = { Info: bunInfoClass(server), scheme: "http", origin: "http://127.0.0.1:1" };
const before = (request: Request) => app(request, new Before(request, server));
const after = bunFetch(app, serving);
const requests = Array.from({ length: 1024 }, (_, i) => new Request(`http://127.0.0.1:8000/p${i}`));

function nsPerCall(callback: (request: Request) => unknown, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) callback(requests[i & 1023] as Request);
  return ((performance.now() - start) * 1e6) / n;
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
for (let i = 0; i < 3; i++) nsPerCall(before, 1e6) + nsPerCall(after, 1e6);
const b: number[] = [];
const a: number[] = [];
for (let i = 0; i < 15; i++) {
  b.push(nsPerCall(before, 2e6));
  a.push(nsPerCall(after, 2e6));
}
console.log(`ns per call: before ${median(b).toFixed(1)}, after ${median(a).toFixed(1)} (${seen})`);
server.stop(true);
