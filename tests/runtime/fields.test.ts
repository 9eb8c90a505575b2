/// <reference path="../../lib/runtime/_bun.d.ts" />
/** runtime/fields.ts on the runtime's own server, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mayHaveFields } from "../../lib/runtime/fields.ts";
import { freePort, RUNTIME } from "../_helpers/corral.ts";

const PROXY = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];

/** What the handler saw of each request: the answer, and the answer again once the request was answered. */
const seen: { during: boolean; after: Promise<boolean> }[] = [];

function handler(request: Request): Response {
  let answered: (value: boolean) => void = () => {};
  const later = new Promise<boolean>((resolve) => answered = resolve);
  seen.push({ during: mayHaveFields(request, PROXY), after: later });
  setTimeout(() => answered(mayHaveFields(request, PROXY)), 50);
  return new Response("ok");
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

/** Sends `head` on its own connection; resolves once the response has come and the connection closed. */
function send(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => out += d);
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer within 5 s")));
    socket.write(head);
  });
}

const port = await freePort();
const stop = serve(port);
after(stop);

describe(`mayHaveFields (${RUNTIME})`, () => {
  test("a served request: false only when the runtime knows none is there (Deno)", async () => {
    seen.length = 0;
    const heads = [
      "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nAccept: */*\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nFORWARDED: for=192.0.2.1\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nx-forwarded-host: a\r\nX-Forwarded-Host: b\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.1\r\nConnection: close\r\n\r\n",
    ];
    for (const head of heads) assert.match(await send(port, head), /^HTTP\/1\.1 200/);
    assert.deepEqual(seen.map((s) => s.during), [RUNTIME === "bun", true, true, true, true]);
    // Once answered, Deno's record of it is gone: then it cannot be told.
    assert.deepEqual(await Promise.all(seen.map((s) => s.after)), [true, true, true, true, true]);
  });

  test("a Request made in JavaScript cannot be told", () => {
    assert.equal(mayHaveFields(new Request("http://x/"), PROXY), true);
    assert.equal(mayHaveFields(new Request("http://x/", { headers: { forwarded: "for=a" } }), PROXY), true);
  });
});
