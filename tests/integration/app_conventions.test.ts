/**
 * An app written to its runtime's own conventions (tests/apps/conventions.ts)
 * served by the real CLI: absolute URLs, the export's error() and routes,
 * Bun's Server as the second argument, keys corral owns.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Corral, freePort, IS_BUN, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get, rawRequest } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 30_000 };
const APP = "tests/apps/conventions.ts";

async function start(args: string[] = [], binds?: string[]): Promise<{ c: Corral; port: number }> {
  const port = await freePort();
  const bind = (binds ?? ["127.0.0.1"]).flatMap((host) => ["-b", `${host}:${port}`]);
  const c = new Corral([...bind, ...args, APP]);
  await c.ready();
  return { c, port };
}

async function stop(c: Corral): Promise<void> {
  c.kill("SIGTERM");
  assert.equal((await c.exit()).code, 0);
}

/** Whether this machine has IPv6 loopback. */
async function hasIpv6(): Promise<boolean> {
  try {
    await freePort("::1");
    return true;
  } catch {
    return false;
  }
}

describe(`an app's own conventions (${RUNTIME})`, () => {
  test(
    "request.url is absolute for HTTP/1.0 without Host, absolute-form targets and IPv6 hosts",
    T,
    async () => {
      const v6 = await hasIpv6();
      const { c, port } = await start([], v6 ? ["127.0.0.1", "[::1]"] : ["127.0.0.1"]);
      const cases: [string, string, RegExp][] = [
        ["127.0.0.1", "GET /url?x=1 HTTP/1.0\r\n\r\n", /^http:\/\/\S+\/url\?x=1 \S+ \/url\?x=1$/],
        ["127.0.0.1", "GET /url HTTP/1.0\r\nHost: h.example:81\r\n\r\n", /^http:\/\/h\.example:81\/url /],
        ["127.0.0.1", "GET /url HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n", /^http:\/\/\S+\/url /],
        ["127.0.0.1", "GET http://a.example/url?q HTTP/1.0\r\n\r\n", /^http:\/\/\S+\/url\?q /],
        [
          "127.0.0.1",
          "GET http://a.example/url HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
          /^http:\/\/a\.example\/url /,
        ],
      ];
      if (v6) {
        cases.push(
          [
            "::1",
            `GET /url HTTP/1.1\r\nHost: [::1]:${port}\r\nConnection: close\r\n\r\n`,
            /^http:\/\/\[::1\]:\d+\/url /,
          ],
          ["::1", "GET /url?v6 HTTP/1.0\r\n\r\n", /^http:\/\/\S+\/url\?v6 /],
        );
      }
      for (const [host, text, expected] of cases) {
        const { status, body } = await rawRequest(port, text, host);
        assert.equal(status, 200, `${JSON.stringify(text)}: ${body}`);
        assert.match(body, expected, JSON.stringify(text));
      }
      await stop(c);
    },
  );

  test(
    "an export's error() answers a request whose handler threw; the error is still logged",
    T,
    async () => {
      const { c, port } = await start();
      const reply = await get(`http://127.0.0.1:${port}/throw`);
      assert.equal(reply.status, 418);
      assert.equal(reply.body, "app error: boom from the app");
      await c.waitForLog(/Error handling request: .*boom from the app/);
      await stop(c);
    },
  );

  test("a port in the export is ignored, with a warning naming -b/--bind", T, async () => {
    const { c, port } = await start();
    assert.match(
      c.stderr,
      /The app's export sets port: 3000, which corral ignores: it is decided by -b\/--bind/,
    );
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, "fetch /");
    await stop(c);
  });

  test("Deno: the second argument is Deno's ServeHandlerInfo", { ...T, skip: IS_BUN }, async () => {
    const { c, port } = await start();
    const seen = JSON.parse((await get(`http://127.0.0.1:${port}/server`)).body);
    assert.equal(seen.remoteAddr.hostname, "127.0.0.1");
    assert.equal(seen.completed, true);
    await stop(c);
  });

  test("Bun: the second argument is Bun's Server with remoteAddr; both report a trusted proxy's client", {
    ...T,
    skip: !IS_BUN,
  }, async () => {
    const { c, port } = await start();
    const direct = JSON.parse((await get(`http://127.0.0.1:${port}/server`)).body);
    assert.equal(direct.remoteAddr.hostname, "127.0.0.1");
    assert.equal(direct.requestIP.address, "127.0.0.1");
    assert.equal(direct.requestIP.port, direct.remoteAddr.port);
    assert.equal(direct.port, port);
    assert.equal(direct.pendingRequests, 1);
    assert.deepEqual(direct.methods, ["function", "function", "function"]);
    const proxied = JSON.parse(
      (await get(`http://127.0.0.1:${port}/server`, { headers: { "x-forwarded-for": "203.0.113.9" } })).body,
    );
    assert.deepEqual(proxied.remoteAddr, { transport: "tcp", hostname: "203.0.113.9", port: 0 });
    assert.deepEqual(proxied.requestIP, { address: "203.0.113.9", port: 0, family: "IPv4" });
    const route = JSON.parse(
      (await get(`http://127.0.0.1:${port}/route/7`, { headers: { "x-forwarded-for": "2001:db8::5" } })).body,
    );
    assert.deepEqual(route, { id: "7", ip: "2001:db8::5" });
    const reload = await get(`http://127.0.0.1:${port}/reload`);
    assert.equal(reload.status, 418);
    assert.match(reload.body, /server\.reload\(\) is not available under corral/);
    await stop(c);
  });

  test("Bun: the export's routes are served, function routes through corral's front", {
    ...T,
    skip: !IS_BUN,
  }, async () => {
    const { c, port } = await start(["--access-logfile", "-", "--limit-request-line", "200"]);
    assert.deepEqual(JSON.parse((await get(`http://127.0.0.1:${port}/route/42`)).body), {
      id: "42",
      ip: "127.0.0.1",
    });
    assert.equal((await get(`http://127.0.0.1:${port}/static`)).body, "a static route");
    assert.equal((await get(`http://127.0.0.1:${port}/methods`, { method: "POST" })).body, "posted");
    assert.equal((await get(`http://127.0.0.1:${port}/elsewhere`)).body, "fetch /elsewhere");
    assert.equal((await get(`http://127.0.0.1:${port}/route/${"x".repeat(300)}`)).status, 414);
    await waitFor(
      "the route's lines in the access log",
      () =>
        /"GET \/route\/42 HTTP\/1\.1" 200 /.test(c.stdout) &&
        /"GET \/route\/x+ HTTP\/1\.1" 414 /.test(c.stdout),
    );
    await stop(c);
  });

  test(
    "Deno: the export's Bun routes are not Deno's; fetch answers them",
    { ...T, skip: IS_BUN },
    async () => {
      const { c, port } = await start();
      assert.equal((await get(`http://127.0.0.1:${port}/route/42`)).body, "fetch /route/42");
      await stop(c);
    },
  );
});
