/// <reference path="../../lib/runtime/_bun.d.ts" />
/** runtime/fields.ts on the runtime's own server, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect as connectH2 } from "node:http2";
import { connect } from "node:net";
import { fieldValues } from "../../lib/runtime/fields.ts";
import { freePort, ROOT, RUNTIME } from "../_helpers/corral.ts";

/** Fields absent, present once, repeated (joined by `Headers.get`), and a cookie (joined with "; "). */
const NAMES = ["forwarded", "x-forwarded-for", "user-agent", "x-a", "cookie", "referer"];

/** What the handler saw of one request: the runtime's answer, the Headers' and the runtime's once answered. */
interface Seen {
  during: (string | null)[] | null;
  headers: (string | null)[];
  after: Promise<(string | null)[] | null>;
}
const seen: Seen[] = [];

/** What fieldValues puts in an array (each time a fresh one, filled with a marker), or null for false. */
function values(request: Request): (string | null)[] | null {
  const into = NAMES.map(() => "(not set)");
  return fieldValues(request, NAMES, into) ? into : null;
}

function handler(request: Request): Response {
  let answered: (value: (string | null)[] | null) => void = () => {};
  const after = new Promise<(string | null)[] | null>((resolve) => answered = resolve);
  // The runtime is asked first, as the front does, before anything has read the Headers.
  const during = values(request);
  seen.push({ during, headers: NAMES.map((name) => request.headers.get(name)), after });
  setTimeout(() => answered(values(request)), 50);
  return new Response("ok");
}

const TLS = {
  cert: readFileSync(`${ROOT}tests/fixtures/tls/cert.pem`, "utf8"),
  key: readFileSync(`${ROOT}tests/fixtures/tls/key.pem`, "utf8"),
};

function serve(port: number, tls: boolean): () => Promise<void> {
  const options = { hostname: "127.0.0.1", port, ...(tls ? TLS : {}) };
  if (RUNTIME === "bun") {
    // With TLS, HTTP/2 through ALPN, as corral serves it (lib/runtime/bun.ts).
    const server = Bun.serve({ ...options, ...(tls ? { http2: true } : {}), fetch: handler });
    return async () => void await server.stop(true);
  }
  const deno = (globalThis as unknown as {
    Deno: { serve(o: object, h: typeof handler): { shutdown(): Promise<void> } };
  }).Deno;
  const server = deno.serve({ ...options, onListen() {} }, handler);
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

/** One HTTP/2 request over TLS with `headers` (an array value is sent as that many fields). */
function sendH2(port: number, headers: Record<string, string | string[]>): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connectH2(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on("error", reject);
    const req = session.request({ ":path": "/", ...headers });
    let status = 0;
    req.on("response", (h) => status = Number(h[":status"]));
    req.on("data", () => {});
    req.on("end", () => {
      session.close();
      resolve(status);
    });
    req.on("error", reject);
    req.end();
  });
}

const port = await freePort();
const tlsPort = await freePort();
const stops = [serve(port, false), serve(tlsPort, true)];
after(() => Promise.all(stops.map((stop) => stop())));

/** On Deno, the record's values are the Headers' values; on Bun the runtime cannot tell. */
function assertSeen(all: Seen[]): void {
  for (const s of all) {
    assert.deepEqual(s.during, RUNTIME === "bun" ? null : s.headers);
  }
}

describe(`fieldValues (${RUNTIME})`, () => {
  test("HTTP/1.1: the values Headers.get gives, repeated fields joined; none once answered", async () => {
    seen.length = 0;
    const heads = [
      "GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nAccept: */*\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nFORWARDED: for=192.0.2.1\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nx-forwarded-for: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2\r\n" +
      "User-Agent: a\r\nuser-agent: b\r\nX-A: 1\r\nX-A: 2\r\nCookie: c=1\r\nCookie: d=2\r\nReferer: r\r\n" +
      "Connection: close\r\n\r\n",
    ];
    for (const head of heads) assert.match(await send(port, head), /^HTTP\/1\.1 200/);
    assert.equal(seen.length, 4);
    assertSeen(seen);
    assert.deepEqual(seen[0]?.headers, [null, null, null, null, null, null]);
    assert.deepEqual(seen[3]?.headers, [null, "192.0.2.1, 192.0.2.2", "a, b", "1, 2", "c=1; d=2", "r"]);
    // Once answered, Deno's record of it is gone: then it cannot be told.
    assert.deepEqual(await Promise.all(seen.map((s) => s.after)), [null, null, null, null]);
  });

  test("HTTP/2: the values Headers.get gives, repeated fields joined", async () => {
    seen.length = 0;
    assert.equal(await sendH2(tlsPort, { "user-agent": "t" }), 200);
    assert.equal(
      await sendH2(tlsPort, {
        "x-forwarded-for": ["192.0.2.1", "192.0.2.2"],
        "x-a": ["1", "2"],
        cookie: ["c=1", "d=2"],
        referer: "r",
      }),
      200,
    );
    assert.equal(seen.length, 2);
    assertSeen(seen);
    assert.deepEqual(seen[1]?.headers, [null, "192.0.2.1, 192.0.2.2", null, "1, 2", "c=1; d=2", "r"]);
  });

  test("a Request made in JavaScript cannot be told", () => {
    assert.equal(values(new Request("http://x/")), null);
    assert.equal(values(new Request("http://x/", { headers: { forwarded: "for=a" } })), null);
  });
});
