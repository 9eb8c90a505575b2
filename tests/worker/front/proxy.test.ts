/** Trusted proxy headers: Forwarded and X-Forwarded-*, from allowed peers only. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseAllowIps } from "../../../lib/worker/front/allow_ips.ts";
import {
  proxyFields,
  resolveForwarded,
  splitNode,
  withProxyHeaders,
} from "../../../lib/worker/front/proxy.ts";
import { type Handler, type RemoteAddr, type ServeInfo } from "../../../lib/runtime/types.ts";
import { PEER } from "./_helpers.ts";

describe("proxy headers", () => {
  const allow = parseAllowIps(["127.0.0.1", "10.0.0.0/8"]);

  test("X-Forwarded-For: the nearest address that is not a trusted proxy is the client", () => {
    const h = new Headers({ "x-forwarded-for": "198.51.100.9, 203.0.113.5, 10.1.1.1" });
    assert.deepEqual(resolveForwarded(proxyFields(h)!, allow).client, {
      transport: "tcp",
      hostname: "203.0.113.5",
      port: 0,
    });
  });

  test("X-Forwarded-Proto and -Host set the URL the app sees; the trusted peer's own address is replaced", async () => {
    const seen: { url: string; remote: RemoteAddr }[] = [];
    const app: Handler = (request, info) => {
      seen.push({ url: request.url, remote: info.remoteAddr });
      return new Response("ok");
    };
    const handler = withProxyHeaders(app, allow);
    const headers = {
      "x-forwarded-for": "203.0.113.5",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "example.org",
    };
    await handler(new Request("http://127.0.0.1:8000/p?q=1", { headers }), PEER);
    assert.deepEqual(seen[0], {
      url: "https://example.org/p?q=1",
      remote: { transport: "tcp", hostname: "203.0.113.5", port: 0 },
    });
  });

  test("the app gets the request itself, with its body, signal and the runtime's info, under the new URL", async () => {
    const controller = new AbortController();
    const completed = Promise.resolve();
    const original = new Request("http://127.0.0.1:8000/up", {
      method: "POST",
      body: "payload",
      headers: { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.5" },
      signal: controller.signal,
    });
    let got: { request: Request; info: ServeInfo } | undefined;
    const handler = withProxyHeaders((request, info) => {
      got = { request, info };
      return new Response("ok");
    }, allow);
    await handler(original, { ...PEER, completed } as ServeInfo);
    assert.ok(got);
    assert.equal(got.request, original);
    assert.equal(got.request.url, "https://127.0.0.1:8000/up");
    const copy = got.request.clone();
    assert.equal(copy.url, "https://127.0.0.1:8000/up");
    assert.equal(await copy.text(), "payload");
    assert.equal(await got.request.text(), "payload");
    assert.equal((got.info as { completed?: Promise<void> }).completed, completed);
    controller.abort();
    assert.ok(got.request.signal.aborted);
  });

  test("from an untrusted peer the headers are passed through untouched and not used", async () => {
    const seen: { request: Request; info: ServeInfo }[] = [];
    const handler = withProxyHeaders((request, info) => {
      seen.push({ request, info });
      return new Response("ok");
    }, allow);
    const request = new Request("http://h/p", {
      headers: { "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https" },
    });
    const stranger: ServeInfo = { remoteAddr: { transport: "tcp", hostname: "192.0.2.77", port: 1 } };
    await handler(request, stranger);
    assert.equal(seen[0]?.request, request);
    assert.equal(seen[0]?.info, stranger);
    assert.equal(seen[0]?.request.headers.get("x-forwarded-for"), "1.2.3.4");
  });

  test("X-Forwarded-Proto and -Host: a list lines up with X-Forwarded-For, a single value is the edge's", () => {
    const fields = (h: Record<string, string>) => proxyFields(new Headers(h))!;
    // The client's hop is 203.0.113.5, the second of three: its proto is the second.
    assert.deepEqual(
      resolveForwarded(
        fields({
          "x-forwarded-for": "198.51.100.9, 203.0.113.5, 10.1.1.1",
          "x-forwarded-proto": "http, HTTPS, http",
        }),
        allow,
      ),
      { client: { transport: "tcp", hostname: "203.0.113.5", port: 0 }, proto: "https", host: null },
    );
    assert.deepEqual(
      resolveForwarded(
        fields({ "x-forwarded-for": "203.0.113.5:4711, 10.1.1.1", "x-forwarded-host": "a.example" }),
        allow,
      ),
      { client: { transport: "tcp", hostname: "203.0.113.5", port: 4711 }, proto: null, host: "a.example" },
    );
    assert.deepEqual(resolveForwarded(fields({ "x-forwarded-proto": "https" }), allow), {
      client: null,
      proto: "https",
      host: null,
    });
    assert.deepEqual(resolveForwarded(fields({ "x-forwarded-for": " , unknown" }), allow), {
      client: null,
      proto: null,
      host: null,
    });
  });

  test("a node splits into address and port, brackets removed even without a port", () => {
    assert.deepEqual(splitNode("192.0.2.1"), { address: "192.0.2.1" });
    assert.deepEqual(splitNode("192.0.2.1:80"), { address: "192.0.2.1", port: 80 });
    assert.deepEqual(splitNode("[2001:db8::1]:443"), { address: "2001:db8::1", port: 443 });
    assert.deepEqual(splitNode("[192.0.2.1]"), { address: "192.0.2.1" });
    assert.deepEqual(splitNode("unknown"), { address: "unknown" });
  });

  test("RFC 7239 Forwarded: for (with IPv6 and port), proto and host of the client's hop", () => {
    const h = new Headers({
      forwarded: 'for="[2001:db8::17]:4711";proto=https;host=shop.example, for=10.0.0.3;proto=http',
    });
    assert.deepEqual(resolveForwarded(proxyFields(h)!, allow), {
      client: { transport: "tcp", hostname: "2001:db8::17", port: 4711 },
      proto: "https",
      host: "shop.example",
    });
  });

  test("a host that is not a host name is ignored; an obfuscated for keeps the peer", () => {
    const h = new Headers({ forwarded: 'for="_hidden";host="evil/path"' });
    assert.deepEqual(resolveForwarded(proxyFields(h)!, allow), { client: null, proto: null, host: null });
  });

  test("'*' trusts every peer and every hop: the farthest address is the client", () => {
    const h = new Headers({ "x-forwarded-for": "198.51.100.9, 203.0.113.5" });
    assert.equal(resolveForwarded(proxyFields(h)!, parseAllowIps(["*"])).client?.transport, "tcp");
    assert.deepEqual(resolveForwarded(proxyFields(h)!, parseAllowIps(["*"])).client, {
      transport: "tcp",
      hostname: "198.51.100.9",
      port: 0,
    });
  });

  test("allow lists take IPv4 and IPv6 addresses and networks, IPv4-mapped addresses included", () => {
    const list = parseAllowIps(["192.0.2.0/24", "2001:db8::/32", "::1"]);
    assert.ok(list.allows("192.0.2.200"));
    assert.ok(list.allows("::ffff:192.0.2.1"));
    assert.ok(list.allows("2001:db8:1::5"));
    assert.ok(list.allows("::1"));
    assert.ok(!list.allows("192.0.3.1"));
    assert.ok(!list.allows("not-an-ip"));
    assert.throws(() => parseAllowIps(["10.0.0.0/40"]), /invalid prefix length/);
    assert.throws(() => parseAllowIps(["example.com"]), /not an IP address/);
  });
});
