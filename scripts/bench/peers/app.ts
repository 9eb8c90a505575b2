/**
 * The app every JavaScript peer of `scripts/bench/main.ts --peers` serves: corral
 * on Deno and Bun, bare `Deno.serve`, `deno serve --parallel` and bare
 * `Bun.serve`. node_app.mjs and wsgi_app.py answer the same three routes
 * with the same bytes.
 *
 * - `GET /`: `Hello, world!\n`, text/plain
 * - `GET /64k`: 65,536 bytes, application/octet-stream
 * - `POST /echo`: the JSON body, parsed and serialised again
 *
 * `deno serve scripts/bench/peers/app.ts`, `corral scripts/bench/peers/app.ts`
 * @module
 */

/** Size of the `/64k` body. */
export const LARGE_BYTES = 65_536;

const _HELLO_HEADERS = { "content-type": "text/plain" };
const _LARGE_HEADERS = { "content-type": "application/octet-stream" };
// One buffer for every response: the runtimes copy it out, none transfers it.
const _LARGE = new Uint8Array(LARGE_BYTES).fill(0x78);

/** The path of a request URL, without building a URL object. */
function _path(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}

/** The peers' app: a fetch handler, as corral and `deno serve` load it. */
export default {
  async fetch(request: Request): Promise<Response> {
    const path = _path(request.url);
    if (path === "/" && request.method === "GET") {
      return new Response("Hello, world!\n", { headers: _HELLO_HEADERS });
    }
    if (path === "/64k" && request.method === "GET") return new Response(_LARGE, { headers: _LARGE_HEADERS });
    if (path === "/echo" && request.method === "POST") return Response.json(await request.json());
    return new Response("Not Found\n", { status: 404 });
  },
};
