/// <reference path="../../lib/runtime/_bun.d.ts" />
/** runtime/request_url.ts, on Requests made in JavaScript and on the runtime's own server. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { withUrl } from "../../lib/runtime/request_url.ts";
import { freePort, RUNTIME } from "../_helpers/corral.ts";

/** What the handler saw of each request given a URL. */
interface Seen {
  url: string;
  clone: string;
  cloneOfClone: string;
  body: string;
  other: string;
}

async function handler(request: Request): Promise<Response> {
  const given = withUrl(request, "https://shop.example" + new URL(request.url).pathname);
  const other = new Request("http://other.example/x");
  const clone = given.clone();
  const seen: Seen = {
    url: given.url,
    clone: clone.url,
    cloneOfClone: clone.clone().url,
    body: await given.text(),
    other: other.url,
  };
  return Response.json(seen);
}

function serve(port: number): () => Promise<void> {
  if (RUNTIME === "bun") {
    const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: handler });
    return async () => void await server.stop(true);
  }
  const deno = (globalThis as unknown as {
    Deno: { serve(o: object, h: typeof handler): { shutdown(): Promise<void> } };
  }).Deno;
  const server = deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  return () => server.shutdown();
}

const port = await freePort();
const stop = serve(port);
after(stop);

describe(`withUrl (${RUNTIME})`, () => {
  test("a served request: its URL, its clones', its body; other requests keep theirs", async () => {
    for (const method of ["GET", "POST"]) {
      const body = method === "POST" ? "x".repeat(100_000) : null;
      const response = await fetch(`http://127.0.0.1:${port}/cart?q=1`, { method, body });
      assert.deepEqual(await response.json(), {
        url: "https://shop.example/cart",
        clone: "https://shop.example/cart",
        cloneOfClone: "https://shop.example/cart",
        body: body ?? "",
        other: "http://other.example/x",
      });
    }
  });

  test("a Request made in JavaScript; the runtime's checks of what `url` is read on stay", () => {
    const request = new Request("http://127.0.0.1:8000/up", { method: "POST", body: "b" });
    assert.equal(withUrl(request, "https://h.example/up"), request);
    assert.equal(request.url, "https://h.example/up");
    assert.equal(request.clone().url, "https://h.example/up");
    assert.equal(new Request("http://127.0.0.1:8000/down").url, "http://127.0.0.1:8000/down");
    const get = Object.getOwnPropertyDescriptor(Request.prototype, "url")?.get;
    assert.equal(typeof get, "function");
    assert.throws(() => get?.call({}), TypeError);
    assert.throws(() => Request.prototype.clone.call({} as Request), TypeError);
  });
});
