/** The gate: one walk over the fields for the limits and the proxy headers. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseAllowIps } from "../../../lib/worker/front/allow_ips.ts";
import { FieldScan } from "../../../lib/worker/front/limits.ts";
import { withGate } from "../../../lib/worker/front/gate.ts";
import { withAccessLog } from "../../../lib/worker/front/access_log.ts";
import { type RemoteAddr } from "../../../lib/runtime/types.ts";
import { PEER, withLogFile } from "./_helpers.ts";

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
