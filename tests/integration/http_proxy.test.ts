/** Proxy headers and HTTP/2 over TLS against the real CLI, under the runtime running the tests. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { request } from "node:http";
import { Corral, freePort, FRONT_APP, RUNTIME, startOnFreePort, stopAll } from "../_helpers/corral.ts";
import { get, h2get } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 30_000 };
const CERT = "tests/fixtures/tls/cert.pem";
const KEY = "tests/fixtures/tls/key.pem";

interface Seen {
  url: string;
  cloneUrl: string;
  remoteAddr: { transport: string; hostname?: string; port?: number };
  headers: [string, string][];
}

async function info(port: number, headers: Record<string, string>): Promise<Seen> {
  return JSON.parse((await get(`http://127.0.0.1:${port}/info?q=1`, { headers })).body);
}

const start = (args: string[]) => startOnFreePort(args);

describe(`proxy headers (${RUNTIME})`, () => {
  test(
    "from a trusted peer (127.0.0.1 by default), X-Forwarded-* set remoteAddr, scheme and host",
    T,
    async () => {
      const { c, port } = await start([]);
      const seen = await info(port, {
        "x-forwarded-for": "198.51.100.20, 203.0.113.9",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example",
      });
      assert.equal(seen.url, "https://shop.example/info?q=1");
      assert.equal(seen.cloneUrl, "https://shop.example/info?q=1");
      assert.deepEqual(seen.remoteAddr, { transport: "tcp", hostname: "203.0.113.9", port: 0 });
      // The body still reaches the app under the new URL.
      const upload = await get(`http://127.0.0.1:${port}/echo`, {
        method: "POST",
        headers: { "x-forwarded-proto": "https", "content-type": "text/plain" },
        body: "x".repeat(100_000),
      });
      assert.equal(upload.body, "read 100000");
      const plain = await info(port, {});
      assert.equal(plain.remoteAddr.hostname, "127.0.0.1");
      assert.equal(plain.url, `http://127.0.0.1:${port}/info?q=1`);
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "RFC 7239 Forwarded from a trusted peer, a network in the list trusting the hops in it",
    T,
    async () => {
      const { c, port } = await start(["--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8"]);
      const seen = await info(port, {
        forwarded: 'for="[2001:db8::7]:4711";proto=https;host=api.example, for=10.1.2.3',
      });
      assert.equal(seen.url, "https://api.example/info?q=1");
      assert.deepEqual(seen.remoteAddr, { transport: "tcp", hostname: "2001:db8::7", port: 4711 });
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "from a peer not in --forwarded-allow-ips the headers reach the app untouched and are not used",
    T,
    async () => {
      const { c, port } = await start(["--forwarded-allow-ips", "192.0.2.1"]);
      const seen = await info(port, { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" });
      assert.equal(seen.url, `http://127.0.0.1:${port}/info?q=1`);
      assert.equal(seen.remoteAddr.hostname, "127.0.0.1");
      assert.ok(seen.headers.some(([k, v]) => k === "x-forwarded-for" && v === "203.0.113.9"));
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "a request reaches the app with its headers unread on Deno (so Deno.serve answers it without " +
      "copying them), with proxy headers or without; one with them is still rewritten, over HTTP/1.1 and HTTP/2",
    T,
    async () => {
      const { c, port } = await start(["--certfile", CERT, "--keyfile", KEY]);
      const h1 = async (headers: Record<string, string>) =>
        JSON.parse((await get(`https://127.0.0.1:${port}/headers-read`, { headers })).body);
      const h2 = async (headers: Record<string, string>) =>
        JSON.parse((await h2get(port, "/headers-read", headers)).body);
      const direct = `https://127.0.0.1:${port}/headers-read`;
      // Each proxy header alone, named in any case; on Bun the app cannot tell whether they were read.
      // Deno's record gives their values without the Headers (runtime/fields.ts).
      const proxied: Record<string, string>[] = [
        { "X-Forwarded-For": "203.0.113.9" },
        { "x-forwarded-proto": "http" },
        { "X-FORWARDED-HOST": "shop.example" },
        { Forwarded: "for=203.0.113.9" },
      ];
      for (const [name, ask] of [["HTTP/1.1", h1], ["HTTP/2", h2]] as const) {
        const plain = await ask({ "user-agent": "t", accept: "*/*" });
        assert.equal(
          plain.read,
          RUNTIME === "deno" ? "false" : "unknown",
          `${name}: ${JSON.stringify(plain)}`,
        );
        assert.equal(plain.url, direct);
        for (const headers of proxied) {
          // HTTP/2 field names are lowercase on the wire.
          const seen = await ask(
            name === "HTTP/2"
              ? Object.fromEntries(
                Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]),
              )
              : headers,
          );
          assert.equal(
            seen.read,
            RUNTIME === "deno" ? "false" : "unknown",
            `${name}, ${JSON.stringify(headers)}: ${JSON.stringify(seen)}`,
          );
          const applied = seen.url !== direct || seen.remoteAddr.hostname === "203.0.113.9";
          assert.ok(applied, `${name}, ${JSON.stringify(headers)} applied: ${JSON.stringify(seen)}`);
        }
      }
      c.kill("SIGTERM");
      await c.exit();
    },
  );

  test(
    "FORWARDED_ALLOW_IPS sets the list, as in Gunicorn; a bad entry is a usage error naming it",
    T,
    async () => {
      const port = await freePort();
      const bad = new Corral(["-b", `127.0.0.1:${port}`, FRONT_APP], {
        env: { FORWARDED_ALLOW_IPS: "10.0.0.0/99" },
      });
      assert.equal((await bad.exit()).code, 2);
      assert.match(bad.stderr, /\$FORWARDED_ALLOW_IPS: "10\.0\.0\.0\/99": .*invalid prefix length/);
      const c = new Corral(["-b", `127.0.0.1:${port}`, FRONT_APP], {
        env: { FORWARDED_ALLOW_IPS: "192.0.2.1" },
      });
      await c.ready();
      assert.equal((await info(port, { "x-forwarded-for": "203.0.113.9" })).remoteAddr.hostname, "127.0.0.1");
      c.kill("SIGTERM");
      await c.exit();
    },
  );
});

function post(port: number, path: string, body: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { connection: "close", ...headers },
      agent: false,
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => text += d);
      res.on("end", () => resolve(text));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe(`request bodies through the front (${RUNTIME})`, () => {
  test(
    "a body reaches the app whole through the proxy rewrite, the body limit and the timeout",
    T,
    async () => {
      const { c, port } = await start(["--request-timeout", "5", "--limit-request-body", "1m"]);
      const body = "b".repeat(3000);
      assert.equal(await post(port, "/echo", body, {}), "read 3000");
      assert.equal(await post(port, "/echo", body, { "x-forwarded-proto": "https" }), "read 3000");
      assert.equal(
        await post(port, "/echo", body, { "x-forwarded-proto": "https", "transfer-encoding": "chunked" }),
        "read 3000",
      );
      c.kill("SIGTERM");
      await c.exit();
    },
  );
});

function curl(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("curl", args, { timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

describe(`HTTP/2 (${RUNTIME})`, () => {
  test("with --certfile/--keyfile, HTTP/2 is offered through ALPN, HTTP/1.1 still served", T, async () => {
    const { c, port } = await start(["--certfile", CERT, "--keyfile", KEY, "--access-logfile", "-"]);
    const reply = await h2get(port);
    assert.deepEqual(reply, { status: 200, alpn: "h2", body: "ok" });
    const viaCurl = await curl([
      "-sk",
      "--http2",
      "-o",
      "/dev/null",
      "-w",
      "%{http_version}",
      `https://127.0.0.1:${port}/`,
    ]);
    if (viaCurl !== null) assert.equal(viaCurl, "2");
    const h1 = await curl([
      "-sk",
      "--http1.1",
      "-o",
      "/dev/null",
      "-w",
      "%{http_version}",
      `https://127.0.0.1:${port}/`,
    ]);
    if (h1 !== null) assert.equal(h1, "1.1");
    c.kill("SIGTERM");
    await c.exit();
    assert.match(c.stdout, /"GET \/ HTTP\/1\.1" 200/);
  });
});
