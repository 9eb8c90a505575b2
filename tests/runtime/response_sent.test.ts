/**
 * runtime.whenSent, under the runtime running the tests: which responses keep their request in flight
 * until sent (Deno: a streamed body, told from Deno's record of the Response), and a real Deno.serve's
 * `completed` settling only once a paused stream has ended.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runtime } from "../../lib/runtime/mod.ts";
import type { ServeInfo } from "../../lib/runtime/types.ts";
import { IS_BUN, RUNTIME } from "../_helpers/corral.ts";

const completed = Promise.resolve();
const INFO = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 }, completed };

const STATIC: [string, () => Response][] = [
  ["a string", () => new Response("hello")],
  ["bytes", () => new Response(new Uint8Array(64))],
  ["no body", () => new Response(null, { status: 204 })],
  ["JSON", () => Response.json({ a: 1 })],
  [
    "a string and headers",
    () => new Response("hello", { headers: { "x-a": "1", "content-type": "text/plain" } }),
  ],
  ["a redirect", () => Response.redirect("http://h/", 302)],
];

const STREAMED: [string, () => Response][] = [
  ["a ReadableStream", () => new Response(new ReadableStream({ pull() {} }))],
  ["a string whose body the app has read as a stream", () => {
    const response = new Response("hello");
    void response.body;
    return response;
  }],
  ["a Blob", () => new Response(new Blob(["hello"]))],
];

describe(`runtime.whenSent (${RUNTIME})`, () => {
  test("a body the runtime has whole: nothing to wait for", () => {
    for (const [kind, make] of STATIC) assert.equal(runtime.whenSent(make(), INFO), null, kind);
  });

  test("a streamed body: Deno's `completed`; Bun cannot tell (its watcher asks the servers)", () => {
    for (const [kind, make] of STREAMED) {
      assert.equal(runtime.whenSent(make(), INFO), IS_BUN ? null : completed, kind);
    }
  });

  test(
    "Deno.serve's `completed` settles once a stream that pauses has ended, not when the handler returns",
    { skip: IS_BUN && "Deno's ServeHandlerInfo" },
    async () => {
      const events: string[] = [];
      let release = () => {};
      const paused = new Promise<void>((resolve) => release = resolve);
      let sent = null as Promise<void> | null;
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_request, info) => {
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (n++ === 1) await paused;
            if (n > 2) return controller.close();
            controller.enqueue(new TextEncoder().encode(`chunk ${n}\n`));
          },
        });
        const response = new Response(body);
        sent = runtime.whenSent(response, info as unknown as ServeInfo);
        sent?.then(() => events.push("sent"));
        return response;
      });
      try {
        const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
        const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
        assert.match(new TextDecoder().decode((await reader.read()).value), /chunk 1/);
        assert.ok(sent instanceof Promise);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(events, [], "not sent while the stream pauses");
        release();
        while (!(await reader.read()).done);
        await sent;
        assert.deepEqual(events, ["sent"]);
      } finally {
        await server.shutdown();
      }
    },
  );
});
