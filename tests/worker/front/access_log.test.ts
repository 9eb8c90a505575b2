/** The access log's buffering, and upgrades logged as 101. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { withAccessLog } from "../../../lib/worker/front/access_log.ts";
import { withConnectionClose } from "../../../lib/worker/front/_responses.ts";
import { type RemoteAddr, type ServeInfo, UPGRADED } from "../../../lib/runtime/types.ts";
import { waitFor } from "../../_helpers/corral.ts";
import { answer, PEER, withLogFile } from "./_helpers.ts";

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

  test("the request fields a format shows are read before the app runs: Deno's upgrade closes the headers", async () => {
    for (const format of ['%(u)s "%(f)s" "%(a)s" %({x-trace}i)s %(s)s', "json"]) {
      await withLogFile(format, async (log, path) => {
        const request = new Request("http://h/ws", {
          headers: {
            authorization: `Basic ${btoa("alice:pw")}`,
            referer: "http://h/",
            "user-agent": "ua/1",
            "x-trace": "t-1",
          },
        });
        const headers = request.headers;
        let upgraded = false;
        Object.defineProperty(request, "headers", {
          get() {
            if (upgraded) throw new TypeError("Request closed");
            return headers;
          },
        });
        const handler = withAccessLog(
          () => {
            upgraded = true;
            return new Response("switching");
          },
          log,
          () => new Response("err", { status: 500 }),
        );
        assert.equal((await answer(handler(request, { ...PEER }))).status, 200);
        await log.flush();
        const line = readFileSync(path, "utf8");
        if (format === "json") {
          const entry = JSON.parse(line);
          assert.deepEqual([entry.user, entry.referer, entry.user_agent], ["alice", "http://h/", "ua/1"]);
        } else assert.equal(line, 'alice "http://h/" "ua/1" t-1 200\n');
      });
    }
  });

  test("Connection: close leaves a connection taken over alone", () => {
    assert.equal(withConnectionClose(undefined, new Request("http://h/")), undefined);
  });
});
