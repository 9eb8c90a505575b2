/** Gunicorn's request limits, judged before the app runs. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkRequest, withBodyLimit } from "../../../lib/worker/front/limits.ts";
import { type Handler } from "../../../lib/runtime/types.ts";
import { answer, limits, PEER } from "./_helpers.ts";

describe("limits", () => {
  test("a request line over the limit gets 414; at the limit it passes", () => {
    // "GET " + target + " HTTP/1.1" is 13 bytes besides the target.
    const at = new Request("http://h/" + "a".repeat(4094 - 13 - 1));
    assert.equal(checkRequest(at, limits()), null);
    const over = new Request("http://h/" + "a".repeat(4094 - 13));
    assert.equal(checkRequest(over, limits())?.status, 414);
  });

  test("too many fields or a field too long gets 431", () => {
    const many = new Headers();
    for (let i = 0; i < 101; i++) many.set(`x-h${i}`, "1");
    assert.equal(checkRequest(new Request("http://h/", { headers: many }), limits())?.status, 431);
    const long = new Request("http://h/", { headers: { "x-big": "v".repeat(8190 - 7) } });
    assert.equal(checkRequest(long, limits()), null, "name + ': ' + value = 8190 passes");
    const longer = new Request("http://h/", { headers: { "x-big": "v".repeat(8190 - 6) } });
    assert.equal(checkRequest(longer, limits())?.status, 431);
  });

  test("a Content-Length over --limit-request-body gets 413 before the app", () => {
    // A server's request carries the Content-Length it was sent with.
    const post = (n: number) =>
      new Request("http://h/", {
        method: "POST",
        body: "x".repeat(n),
        headers: { "content-length": String(n) },
      });
    assert.equal(checkRequest(post(10), limits({ body: 10 })), null);
    const refused = checkRequest(post(11), limits({ body: 10 }));
    assert.equal(refused?.status, 413);
    // The runtime ends the connection (see tooLarge); ours made Bun reset it before the client read the 413.
    assert.equal(refused?.headers.get("connection"), null);
  });

  test("a streamed body is counted as the app reads it: 413 past the limit, the app's answer below", async () => {
    const app: Handler = async (request) => new Response(`read ${(await request.arrayBuffer()).byteLength}`);
    const handler = withBodyLimit(app, 10);
    const streamed = (chunks: string[]) => {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk));
          c.close();
        },
      });
      return new Request("http://h/", { method: "POST", body, duplex: "half" } as RequestInit);
    };
    assert.equal(await (await answer(handler(streamed(["12345", "67890"]), PEER))).text(), "read 10");
    assert.equal((await answer(handler(streamed(["12345", "67890", "1"]), PEER))).status, 413);
  });
});
