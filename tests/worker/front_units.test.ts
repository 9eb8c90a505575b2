/** The front's parts, called directly with `new Request(...)`: formats, limits, proxies, allow lists. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AccessRecord,
  basicUser,
  clfTime,
  compileAccessFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
} from "../../lib/worker/front/access_format.ts";
import { parseAllowIps } from "../../lib/worker/front/allow_ips.ts";
import { checkRequest, FieldScan, withBodyLimit } from "../../lib/worker/front/limits.ts";
import { withGate } from "../../lib/worker/front/gate.ts";
import { AccessLog, withAccessLog } from "../../lib/worker/front/access_log.ts";
import { proxyFields, resolveForwarded, splitNode, withProxyHeaders } from "../../lib/worker/front/proxy.ts";
import { withMaxConcurrency, withRequestTimeout } from "../../lib/worker/front/backpressure.ts";
import { wrapHandler } from "../../lib/worker/front/mod.ts";
import { withConnectionClose } from "../../lib/worker/front/_responses.ts";
import { type Handler, type RemoteAddr, type ServeInfo, UPGRADED } from "../../lib/runtime/types.ts";
import { defaultSettings, type Settings } from "../../lib/config/settings.ts";
import { parseCommandLine } from "../../lib/config/config.ts";
import { waitFor } from "../_helpers/corral.ts";

const PEER: ServeInfo = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 } };

/** A handler's answer, which these handlers always give. */
async function answer(result: ReturnType<Handler>): Promise<Response> {
  const response = await result;
  assert.ok(response instanceof Response, "a Response");
  return response;
}

function record(
  request: Request,
  response: Response,
  ms = 1.5,
  remote: RemoteAddr = PEER.remoteAddr,
): AccessRecord {
  return { request, info: { remoteAddr: remote }, response, ms, time: Date.UTC(2026, 10, 26, 5, 2, 37) };
}

describe("access log formats", () => {
  const request = new Request("http://example.com/a/b?x=1&y=2", {
    method: "POST",
    headers: {
      referer: "http://ref.example/",
      "user-agent": "test-agent/1.0",
      authorization: "Basic " + btoa("alice:secret"),
      "x-request-id": "r-42",
    },
  });
  const response = new Response("twelve bytes", {
    status: 201,
    headers: { "content-length": "12", "x-trace": "t-7" },
  });

  test("the default format is Gunicorn's, with its atoms filled in", () => {
    const line = compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT).line(record(request, response));
    const t = clfTime(Date.UTC(2026, 10, 26, 5, 2, 37));
    assert.equal(
      line,
      `127.0.0.1 - alice ${t} "POST /a/b?x=1&y=2 HTTP/1.1" 201 12 "http://ref.example/" "test-agent/1.0"`,
    );
  });

  test("every atom: m U q H s B b f a T M D L p l u, headers in and out", () => {
    const format = "%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|%(T)s|%(M)s|%(D)s|%(L)s|%(p)s|" +
      "%(l)s|%(u)s|%({X-Request-Id}i)s|%({x-trace}o)s|%({missing}i)s|100%%";
    const line = compileAccessFormat(format).line(record(request, response, 2345.6789));
    assert.equal(
      line,
      `POST|/a/b|x=1&y=2|HTTP/1.1|201|12|12|http://ref.example/|test-agent/1.0|2|2345|2345679|2.345679|<${process.pid}>|` +
        "-|alice|r-42|t-7|-|100%",
    );
  });

  test("t is [day/Mon/year:H:M:S zone]; unknown lengths, referers and unix peers are -", () => {
    assert.match(clfTime(Date.now()), /^\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]$/);
    const bare = new Request("http://h/");
    const line = compileAccessFormat("%(h)s %(b)s %(f)s %(a)s %(u)s %(q)s.").line(
      record(bare, new Response("x"), 1, { transport: "unix", path: "" }),
    );
    assert.equal(line, "- - - - - .");
  });

  test("json: one object with the request's fields", () => {
    const entry = JSON.parse(compileAccessFormat("json").line(record(request, response, 1.25)));
    assert.deepEqual({ ...entry, time: "T" }, {
      time: "T",
      remote_addr: "127.0.0.1",
      user: "alice",
      method: "POST",
      path: "/a/b",
      query: "x=1&y=2",
      protocol: "HTTP/1.1",
      status: 201,
      bytes: 12,
      duration_ms: 1.25,
      referer: "http://ref.example/",
      user_agent: "test-agent/1.0",
      pid: process.pid,
    });
    assert.equal(entry.time, "2026-11-26T05:02:37.000Z");
  });

  test("literals with quotes, backslashes and line breaks come out as written", () => {
    const format = `"q" \\ \${x} \u2028 %(s)s '%({x-trace}o)s'`;
    const line = compileAccessFormat(format).line(record(request, response));
    assert.equal(line, `"q" \\ \${x} \u2028 201 't-7'`);
  });

  test("fields the gate's walk already read are used as they are, not read again", () => {
    const line = compileAccessFormat("%(u)s|%(f)s|%(a)s").line({
      ...record(request, response),
      authorization: null,
      referer: "from-scan",
      userAgent: "scan-agent",
    });
    assert.equal(line, "-|from-scan|scan-agent");
  });

  test("an unknown atom is refused at compile time, naming it", () => {
    assert.throws(() => compileAccessFormat("%(h)s %(zz)s"), /unknown atom %\(zz\)s/);
    for (const name of ["constructor", "toString", "__proto__"]) {
      assert.throws(() => compileAccessFormat(`%(${name})s`), TypeError, name);
    }
  });

  test("only formats that show a duration ask for the request to be timed", () => {
    assert.equal(compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT).timed, false);
    assert.equal(compileAccessFormat("%(s)s %(M)s").timed, true);
    assert.equal(compileAccessFormat("json").timed, true);
  });

  test("basic auth: the user name, or nothing for other schemes and garbage", () => {
    assert.equal(basicUser("Basic " + btoa("bob:pw:with:colons")), "bob");
    assert.equal(basicUser("Bearer abc"), null);
    assert.equal(basicUser("Basic !!!"), null);
    assert.equal(basicUser(null), null);
  });
});

function limits(overrides: Partial<Record<"line" | "fields" | "fieldSize" | "body", number>> = {}) {
  return { line: 4094, fields: 100, fieldSize: 8190, body: 0, ...overrides };
}

/** Runs `use` with an access log in a fresh temporary folder; closes and removes both after. */
async function withLogFile(
  format: string,
  use: (log: AccessLog, path: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "corral-front-"));
  const path = join(dir, "access.log");
  const log = AccessLog.open(path, format);
  try {
    await use(log, path);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("access log buffering", () => {
  test("a full buffer (64 KiB) is written at once, the rest within half a second, in order, without a close", async () => {
    await withLogFile("%(U)s", async (log, path) => {
      const handler = withAccessLog(
        () => new Response("ok"),
        log,
        () => new Response("err", { status: 500 }),
      );
      const paths = Array.from({ length: 1000 }, (_, i) => `/${String(i).padStart(4, "0")}${"x".repeat(95)}`);
      for (const p of paths) await handler(new Request(`http://h${p}`), PEER);
      // The first 64 KiB go at once, not at the timer (half a second after the first line).
      await waitFor("the first 64 KiB", () => statSync(path).size >= 64 * 1024, 400);
      const expected = paths.join("\n") + "\n";
      await waitFor("every line in the file", () => readFileSync(path, "utf8") === expected, 5000);
    });
  });

  test("an app's promise is logged once it settles, a rejection as the error response", async () => {
    await withLogFile("%(U)s %(s)s", async (log, path) => {
      const handler = withAccessLog(
        (request) =>
          request.url.endsWith("/fail")
            ? Promise.reject(new Error("boom"))
            : Promise.resolve(new Response("ok", { status: 201 })),
        log,
        () => new Response("err", { status: 502 }),
      );
      assert.equal((await answer(handler(new Request("http://h/ok"), PEER))).status, 201);
      assert.equal((await answer(handler(new Request("http://h/fail"), PEER))).status, 502);
      await log.flush();
      assert.equal(readFileSync(path, "utf8"), "/ok 201\n/fail 502\n");
    });
  });
});

describe("access log: upgrades", () => {
  test("an upgraded connection is logged 101: nothing returned, or the runtime's flag whatever was returned", async () => {
    await withLogFile("%(U)s %(s)s %(b)s", async (log, path) => {
      const handler = withAccessLog(
        (request, info) => {
          if (request.url.endsWith("/bun")) return undefined;
          // Hono's upgradeWebSocket on Bun: upgrade, then answer a 200 Bun ignores.
          (info as { [UPGRADED]?: boolean })[UPGRADED] = true;
          return new Response(null);
        },
        log,
        () => new Response("err", { status: 500 }),
      );
      assert.equal(await handler(new Request("http://h/bun"), { ...PEER }), undefined);
      await handler(new Request("http://h/hono"), { ...PEER });
      await log.flush();
      assert.equal(readFileSync(path, "utf8"), "/bun 101 -\n/hono 101 -\n");
    });
  });

  test("the client is read before the app runs: Deno's upgrade closes info.remoteAddr", async () => {
    await withLogFile("%(h)s %(U)s %(s)s", async (log, path) => {
      let closed = false;
      const info: ServeInfo = {
        get remoteAddr(): RemoteAddr {
          if (closed) throw new TypeError("Request closed");
          return { transport: "tcp", hostname: "192.0.2.8", port: 4000 };
        },
      };
      const handler = withAccessLog(
        () => {
          closed = true;
          return new Response("switching");
        },
        log,
        () => new Response("err", { status: 500 }),
      );
      assert.equal((await answer(handler(new Request("http://h/ws"), info))).status, 200);
      await log.flush();
      assert.equal(readFileSync(path, "utf8"), "192.0.2.8 /ws 200\n");
    });
  });

  test("Connection: close leaves a connection taken over alone", () => {
    assert.equal(withConnectionClose(undefined, new Request("http://h/")), undefined);
  });
});

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

describe("composition", () => {
  const settings = (overrides: Partial<Settings>): Settings => ({ ...defaultSettings(), ...overrides });
  const app: Handler = () => new Response("app");

  test("with every part off, the app's own handler is served", () => {
    const off = settings({
      limitRequestLine: 0,
      limitRequestFields: 0,
      limitRequestFieldSize: 0,
      forwardedAllowIps: [],
    });
    assert.equal(wrapHandler(app, off, null), app);
  });

  test("--max-concurrency answers 503 with Retry-After past N in flight, and frees the slot after", async () => {
    const releases: (() => void)[] = [];
    const slow: Handler = () => new Promise((resolve) => releases.push(() => resolve(new Response("done"))));
    const handler = withMaxConcurrency(slow, 2);
    const first = handler(new Request("http://h/"), PEER);
    const second = handler(new Request("http://h/"), PEER);
    const third = await answer(handler(new Request("http://h/"), PEER));
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "1");
    releases.forEach((r) => r());
    await Promise.all([first, second]);
    const fourth = handler(new Request("http://h/"), PEER);
    releases.at(-1)?.();
    assert.equal((await answer(fourth)).status, 200);
  });

  test("Connection: close is left out after a body nobody read: the runtime ends that connection", async () => {
    const upload = () =>
      new Request("http://h/", {
        method: "POST",
        body: "x".repeat(100),
        headers: { "content-length": "100" },
      });
    const unread = upload();
    assert.equal(withConnectionClose(new Response("no"), unread).headers.get("connection"), null);
    const read = upload();
    await read.text();
    assert.equal(withConnectionClose(new Response("ok"), read).headers.get("connection"), "close");
    assert.equal(
      withConnectionClose(new Response("ok"), new Request("http://h/")).headers.get("connection"),
      "close",
    );
  });

  test("--keep-alive 0 adds Connection: close, even to a response with immutable headers", async () => {
    const handler = wrapHandler(
      () => Response.redirect("http://example.com/", 302),
      settings({ keepAlive: 0 }),
      null,
    );
    const response = await answer(handler(new Request("http://h/"), PEER));
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("connection"), "close");
  });
});

describe("the gate: one walk for limits and proxy headers", () => {
  const allow = parseAllowIps(["127.0.0.1"]);
  const limitsOn = { line: 4094, fields: 100, fieldSize: 8190, body: 0 };

  test("the walk counts the fields and reads what the front needs, in one pass", () => {
    const scan = new FieldScan().run(
      new Headers({
        "user-agent": "ua",
        referer: "ref",
        authorization: "Basic x",
        "content-length": "5",
        "x-forwarded-proto": "https",
        "x-big": "v".repeat(40),
      }),
      30,
    );
    assert.equal(scan.count, 6);
    assert.deepEqual(
      [
        scan.userAgent,
        scan.referer,
        scan.authorization,
        scan.contentLength,
        scan.xForwardedProto,
        scan.tooLong,
      ],
      ["ua", "ref", "Basic x", "5", "https", "x-big"],
    );
    // Reused for the next request: nothing of the last one is left.
    scan.run(new Headers({ "x-forwarded-port": "443" }), 0);
    assert.deepEqual([scan.count, scan.userAgent, scan.xForwardedProto, scan.proxied, scan.tooLong], [
      1,
      null,
      null,
      false,
      null,
    ]);
  });

  test("proxy headers are applied first; a refusal is judged and logged as the app would see the request", () => {
    const refused: { url: string; remote: RemoteAddr; status: number }[] = [];
    const handler = withGate(() => new Response("app"), limitsOn, allow, (request, info, response) => {
      refused.push({ url: request.url, remote: info.remoteAddr, status: response.status });
      return response;
    });
    const request = new Request("http://127.0.0.1/" + "a".repeat(5000), {
      headers: { "x-forwarded-for": "203.0.113.5", "x-forwarded-proto": "https" },
    });
    const response = handler(request, PEER) as Response;
    assert.equal(response.status, 414);
    assert.equal(refused.length, 1);
    assert.ok(refused[0]?.url.startsWith("https://127.0.0.1/aaa"));
    assert.deepEqual(refused[0]?.remote, { transport: "tcp", hostname: "203.0.113.5", port: 0 });
  });

  test("without field limits, proxy headers are still found (by name) and applied", async () => {
    let seen = "";
    const handler = withGate(
      (r) => {
        seen = r.url;
        return new Response("app");
      },
      null,
      allow,
    );
    await handler(new Request("http://h/p", { headers: { "x-forwarded-host": "example.org" } }), PEER);
    assert.equal(seen, "http://example.org/p");
  });

  test("the access log shows the fields the gate read, and the gate's refusals", async () => {
    await withLogFile('%(s)s "%(a)s" "%(f)s" %(u)s', async (log, path) => {
      const scan = new FieldScan();
      const inner = withAccessLog(
        () => new Response("app"),
        log,
        () => new Response("err", { status: 500 }),
        scan,
      );
      const handler = withGate(
        inner,
        limitsOn,
        null,
        (request, info, response) => log.refused(request, info, response, scan),
        scan,
      );
      const headers = {
        "user-agent": "agent/1",
        referer: "http://r/",
        authorization: "Basic " + btoa("bo:pw"),
      };
      await handler(new Request("http://h/ok", { headers }), PEER);
      await handler(new Request("http://h/" + "a".repeat(5000), { headers }), PEER);
      await log.close();
      assert.equal(
        readFileSync(path, "utf8"),
        '200 "agent/1" "http://r/" bo\n414 "agent/1" "http://r/" bo\n',
      );
    });
  });
});

describe("HTTP and logging settings", () => {
  const env = { env: () => undefined, cpuCount: () => 2, cwd: "/srv" };
  const parse = (args: string[]) => {
    const inv = parseCommandLine([...args, "app.ts"], env);
    assert.equal(inv.action, "serve");
    return (inv as { settings: Settings }).settings;
  };

  test("defaults: Gunicorn's limits, keep-alive 5, proxies from loopback, access log off", () => {
    const s = parse([]);
    assert.deepEqual(
      [s.limitRequestLine, s.limitRequestFields, s.limitRequestFieldSize, s.limitRequestBody, s.keepAlive],
      [4094, 100, 8190, 0, 5],
    );
    assert.deepEqual(s.forwardedAllowIps, ["127.0.0.1", "::1"]);
    assert.equal(s.accessLogfile, null);
    assert.equal(s.accessLogFormat, DEFAULT_ACCESS_LOG_FORMAT);
    assert.deepEqual([s.errorLogfile, s.logFormat, s.requestTimeout, s.maxConcurrency], ["-", "text", 0, 0]);
  });

  test("sizes take k, m and g; lists are comma-separated", () => {
    assert.equal(parse(["--limit-request-body", "10m"]).limitRequestBody, 10 * 1024 * 1024);
    assert.equal(parse(["--limit-request-body", "512"]).limitRequestBody, 512);
    assert.deepEqual(parse(["--forwarded-allow-ips", "10.0.0.0/8, *"]).forwardedAllowIps, [
      "10.0.0.0/8",
      "*",
    ]);
  });

  test("bad values are usage errors naming the flag", () => {
    assert.throws(
      () => parse(["--limit-request-body", "ten"]),
      /--limit-request-body: "ten": expected a number of bytes/,
    );
    assert.throws(
      () => parse(["--access-log-format", "%(h)s %(nope)s"]),
      /--access-log-format: .*unknown atom %\(nope\)s/,
    );
    assert.throws(() => parse(["--log-format", "xml"]), /--log-format: "xml": expected one of text, json/);
    assert.throws(() => parse(["--forwarded-allow-ips", "example.com"]), /not an IP address or CIDR network/);
  });
});

describe("--request-timeout", () => {
  test("a handler past the deadline gets 503; the others their own answers, in any order", async () => {
    const timers: (() => void)[] = [];
    const handler = withRequestTimeout((request) => {
      const ms = Number(new URL(request.url).searchParams.get("ms"));
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(new Response(`slept ${ms}`)), ms);
        timers.push(() => clearTimeout(timer));
      });
    }, 0.2);
    const [slow, fast, slower, quick] = await Promise.all(
      [1000, 10, 5000, 50].map((ms) => handler(new Request(`http://h/?ms=${ms}`), PEER)),
    );
    timers.forEach((clear) => clear());
    assert.deepEqual([slow?.status, fast?.status, slower?.status, quick?.status], [503, 200, 503, 200]);
    assert.equal(await fast?.text(), "slept 10");
  });

  test("a synchronous answer is returned as it is, untimed", () => {
    const response = new Response("now");
    assert.equal(withRequestTimeout(() => response, 1)(new Request("http://h/"), PEER), response);
  });
});
