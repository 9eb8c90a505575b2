/** The front composed from the settings, as a worker builds it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ACCESS_LOG_FORMAT } from "../../../lib/worker/front/access_format.ts";
import { withMaxConcurrency } from "../../../lib/worker/front/backpressure.ts";
import { wrapHandler } from "../../../lib/worker/front/mod.ts";
import { withConnectionClose } from "../../../lib/worker/front/_responses.ts";
import { type Handler } from "../../../lib/runtime/types.ts";
import { defaultSettings, type Settings } from "../../../lib/config/settings.ts";
import { parseCommandLine } from "../../../lib/config/config.ts";
import { answer, PEER } from "./_helpers.ts";

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

describe("HTTP and logging settings", () => {
  const env = { env: () => undefined, cpuCount: () => 2, cwd: "/srv" };
  const parse = (args: string[]) => {
    const inv = parseCommandLine([...args, "app.ts"], env);
    assert.equal(inv.action, "serve");
    return (inv as { settings: Settings }).settings;
  };

  test("defaults: Gunicorn's request line limit, the runtime's field caps, keep-alive 5, proxies from loopback, access log off", () => {
    const s = parse([]);
    assert.deepEqual(
      [s.limitRequestLine, s.limitRequestFields, s.limitRequestFieldSize, s.limitRequestBody, s.keepAlive],
      [4094, 0, 0, 0, 5],
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
