/**
 * corral's own per-request code never fails a request: when the access
 * log, the proxy headers, the limits or the counters throw, the app's
 * response is served as it is and the failure is logged once.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupLogging } from "../../lib/log.ts";
import type { ServeInfo } from "../../lib/runtime/types.ts";
import { AccessLog, withAccessLog } from "../../lib/worker/front/access_log.ts";
import { parseAllowIps } from "../../lib/worker/front/allow_ips.ts";
import { withGate } from "../../lib/worker/front/gate.ts";
import { Watchdog } from "../../lib/worker/watchdog.ts";
import { readWatchdog } from "../../lib/watchdog_buffer.ts";

/** What Deno's info does once the runtime has closed the request (after a WebSocket upgrade). */
const CLOSED: ServeInfo = {
  get remoteAddr(): never {
    throw new TypeError("Request closed");
  },
};

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern, "g"))].length;
}

/** Runs `use` with the error log and an access log in a fresh folder; returns the error log's text. */
async function withLogs(use: (access: AccessLog) => Promise<void>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "corral-guard-"));
  const errors = join(dir, "error.log");
  setupLogging({ logLevel: "info", errorLogfile: errors });
  const access = AccessLog.open(join(dir, "access.log"), "%(h)s %(s)s");
  try {
    await use(access);
    await access.flush();
    return readFileSync(errors, "utf8");
  } finally {
    await access.close();
    setupLogging("info");
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("corral's own per-request code is guarded", () => {
  test("an access log that throws serves the app's response, and is logged once", async () => {
    const errors = await withLogs(async (access) => {
      const handler = withAccessLog(
        () => new Response("the app's", { status: 202 }),
        access,
        () => new Response("err", { status: 500 }),
      );
      for (let i = 0; i < 3; i++) {
        const response = (await handler(new Request("http://h/"), CLOSED)) as Response;
        assert.equal(response.status, 202);
        assert.equal(await response.text(), "the app's");
      }
    });
    assert.equal(count(errors, /corral's access log failed: .*Request closed/), 1, errors);
  });

  test("proxy headers that cannot be applied leave the request to the app as it came, logged once", async () => {
    const errors = await withLogs(async () => {
      // A trusted peer must be asked for: the info's remoteAddr throws.
      const handler = withGate((request) => new Response(request.url), null, parseAllowIps(["127.0.0.1"]));
      for (let i = 0; i < 2; i++) {
        const request = new Request("http://h/x", { headers: { "x-forwarded-for": "203.0.113.7" } });
        const response = (await handler(request, CLOSED)) as Response;
        assert.equal(await response.text(), "http://h/x");
      }
    });
    assert.equal(count(errors, /corral's proxy headers and limits failed: .*Request closed/), 1, errors);
  });

  test("the counters take a handler that returned something else than a Response, or a request that cannot be read", () => {
    const watchdog = new Watchdog();
    const unreadable = new Proxy(new Request("http://h/"), {
      get(target, key) {
        if (key === "url") throw new TypeError("Request closed");
        return Reflect.get(target, key, target);
      },
    });
    const slot = watchdog.begin(unreadable, performance.now());
    assert.match(readWatchdog(watchdog.buffer).inFlight[0]?.request ?? "", /cannot be read/);
    watchdog.end(slot, performance.now(), {} as Response);
    const reading = readWatchdog(watchdog.buffer);
    assert.equal(reading.statusClasses[4], 1, "counted as a 5xx, as the server answers it");
    assert.equal(reading.inFlight.length, 0);
  });
});
