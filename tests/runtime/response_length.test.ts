/** runtime/response_length.ts, under the runtime running the tests. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { responseLength } from "../../lib/runtime/response_length.ts";
import { RUNTIME } from "../_helpers/corral.ts";

/** Every kind of body and header set a handler may answer with, made afresh for each read. */
const RESPONSES: [string, () => Response][] = [
  ["a string", () => new Response("hello")],
  ["a string, text/plain", () => new Response("hello", { headers: { "content-type": "text/plain" } })],
  ["a string, Content-Length", () => new Response("hello", { headers: { "content-length": "5" } })],
  [
    "a string, two fields",
    () => new Response("hello", { headers: { "content-type": "text/plain", "x-a": "1" } }),
  ],
  ["JSON", () => Response.json({ a: 1 })],
  ["JSON, a header", () => Response.json({ a: 1 }, { headers: { "content-length": "7" } })],
  ["bytes", () => new Response(new Uint8Array(64))],
  ["bytes, Content-Length", () => new Response(new Uint8Array(64), { headers: { "Content-Length": "64" } })],
  [
    "a stream, Content-Length",
    () => new Response(new ReadableStream(), { headers: { "content-length": "9" } }),
  ],
  ["no body", () => new Response(null, { status: 204 })],
  ["a 404 string", () => new Response("no", { status: 404 })],
  ["a redirect", () => Response.redirect("http://h/x", 302)],
];

/** Whether Deno still holds the response on its fast path for a static body (its headers unbuilt). */
function onFastPath(response: Response): boolean | undefined {
  const mark = Object.getOwnPropertySymbols(response).find((key) => key.description === "serve fast status");
  return mark === undefined ? undefined : ((response as unknown as Record<symbol, number>)[mark] ?? 0) > 0;
}

describe(`responseLength (${RUNTIME})`, () => {
  test('answers as response.headers.get("content-length") for every kind of response', () => {
    for (const [name, make] of RESPONSES) {
      assert.equal(responseLength(make()), make().headers.get("content-length"), name);
    }
  });

  test("on Deno, a static body keeps the fast path it was on; elsewhere the headers are read", () => {
    const fast = RESPONSES.filter(([, make]) => onFastPath(make()) === true).map(([name]) => name);
    if (RUNTIME === "bun") {
      assert.deepEqual(fast, []);
      return;
    }
    // What Deno 2.9 serves without building the headers; a release that changes it is caught here.
    assert.deepEqual(fast, ["a string", "a string, text/plain", "JSON", "bytes"]);
    for (const [name, make] of RESPONSES) {
      const response = make();
      const before = onFastPath(response);
      responseLength(response);
      assert.equal(onFastPath(response), before, name);
    }
  });

  test("an object that is not a Response, as an upgrade's record, is read through its headers", () => {
    const switched = { status: 101, headers: new Headers({ "content-length": "0" }) } as unknown as Response;
    assert.equal(responseLength(switched), "0");
    assert.equal(responseLength(new Response("x")), null);
  });
});
