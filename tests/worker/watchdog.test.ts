/** The worker's watchdog, called directly: what the heartbeat thread reads out of the shared buffer. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Watchdog } from "../../lib/worker/watchdog.ts";
import { clock, readWatchdog, SLOTS } from "../../lib/watchdog_buffer.ts";

describe("watchdog", () => {
  test("a request in flight is named, with its age, until it ends", () => {
    const watchdog = new Watchdog();
    const startedAt = performance.now() - 1500;
    const slot = watchdog.begin(new Request("http://h/spin?ms=9", { method: "POST" }), startedAt);
    const reading = readWatchdog(watchdog.buffer);
    assert.equal(reading.inFlight.length, 1);
    assert.equal(reading.inFlight[0]?.request, "POST http://h/spin?ms=9");
    assert.ok((reading.inFlight[0]?.ageMs ?? 0) >= 1500 && (reading.inFlight[0]?.ageMs ?? 0) < 3000);
    watchdog.end(slot, startedAt, new Response("ok", { headers: { "content-length": "2" } }));
    const after = readWatchdog(watchdog.buffer);
    assert.deepEqual(after.inFlight, []);
    assert.deepEqual(after.statusClasses, [0, 1, 0, 0, 0]);
    assert.equal(after.bytes, 2);
    // 1.5 s falls in the (1, 2.5] bucket.
    assert.equal(after.histogram.findIndex((n) => n > 0), 9);
    assert.ok(after.durationSeconds >= 1.5);
  });

  test("status classes, a thrown handler as 5xx, and requests past the slots counted", () => {
    const watchdog = new Watchdog();
    const now = performance.now();
    const slots = Array.from({ length: SLOTS + 2 }, () => watchdog.begin(new Request("http://h/"), now));
    assert.equal(slots.filter((s) => s === -1).length, 2);
    assert.equal(readWatchdog(watchdog.buffer).overflow, 2);
    assert.equal(readWatchdog(watchdog.buffer).inFlight.length, SLOTS);
    const statuses = [101, 204, 302, 404, 503];
    slots.forEach((slot, i) => {
      const status = statuses[i % statuses.length] as number;
      watchdog.end(slot, now, i === 0 ? null : new Response(null, { status: status === 101 ? 200 : status }));
    });
    const reading = readWatchdog(watchdog.buffer);
    assert.equal(reading.overflow, 0);
    assert.deepEqual(reading.inFlight, []);
    assert.equal(reading.statusClasses.reduce((a, b) => a + b, 0), SLOTS + 2);
    // The thrown one (i = 0) and every 503.
    assert.equal(reading.statusClasses[4], slots.filter((_, i) => i === 0 || i % 5 === 4).length);
    watchdog.tick();
    assert.equal(readWatchdog(watchdog.buffer).requests, SLOTS + 2);
  });

  test("without countBytes the response's headers are never read (Deno's fast path stays on)", () => {
    const watchdog = new Watchdog({ countBytes: false });
    const slot = watchdog.begin(new Request("http://h/"), performance.now());
    const response = new Response("ok", { headers: { "content-length": "2" } });
    Object.defineProperty(response, "headers", {
      get() {
        throw new Error("headers read");
      },
    });
    watchdog.end(slot, performance.now(), response);
    const reading = readWatchdog(watchdog.buffer);
    assert.deepEqual(reading.statusClasses, [0, 1, 0, 0, 0]);
    assert.equal(reading.bytes, 0);
  });

  test("without countResponses a request's end frees its slot and counts nothing, reading nothing", () => {
    const watchdog = new Watchdog({ countResponses: false, countBytes: false });
    const slot = watchdog.begin(new Request("http://h/x"), performance.now() - 5000);
    assert.equal(readWatchdog(watchdog.buffer).inFlight.length, 1);
    const response = new Response("ok");
    Object.defineProperty(response, "status", {
      get() {
        throw new Error("status read");
      },
    });
    watchdog.end(slot, performance.now() - 5000, response);
    const reading = readWatchdog(watchdog.buffer);
    assert.deepEqual(reading.inFlight, []);
    assert.deepEqual(reading.statusClasses, [0, 0, 0, 0, 0]);
    assert.equal(reading.histogram.reduce((a, b) => a + b, 0), 0);
    assert.equal(reading.durationSeconds, 0);
    // The count of requests begun stays: --max-requests and the workers' table use it.
    watchdog.tick();
    assert.equal(readWatchdog(watchdog.buffer).requests, 1);
  });

  test("a long URL is cut to the slot's size, never past it", () => {
    const watchdog = new Watchdog();
    watchdog.begin(new Request("http://h/" + "a".repeat(1000)), performance.now());
    const text = readWatchdog(watchdog.buffer).inFlight[0]?.request ?? "";
    assert.ok(text.startsWith("GET http://h/aaa") && text.length <= 240, `${text.length} characters`);
  });

  test("a request's text that is not ASCII is written as UTF-8, whole or cut between characters", () => {
    const watchdog = new Watchdog();
    const odd = (url: string) => ({ method: "GET", url }) as Request;
    watchdog.begin(odd("http://h/caf\u00e9?q=\u{1f600}"), performance.now());
    assert.equal(readWatchdog(watchdog.buffer).inFlight[0]?.request, "GET http://h/caf\u00e9?q=\u{1f600}");
    const long = new Watchdog();
    long.begin(odd("http://h/" + "\u00e9".repeat(200)), performance.now());
    const text = readWatchdog(long.buffer).inFlight[0]?.request ?? "";
    assert.ok(text.startsWith("GET http://h/\u00e9\u00e9") && !text.includes("\ufffd"), text);
    assert.ok(new TextEncoder().encode(text).length <= 240);
  });

  test("a request that cannot be read is counted, not named", () => {
    const watchdog = new Watchdog();
    const closed = {
      method: "GET",
      get url(): string {
        throw new TypeError("closed");
      },
    } as unknown as Request;
    watchdog.begin(closed, performance.now());
    assert.equal(readWatchdog(watchdog.buffer).inFlight[0]?.request, "(a request that cannot be read)");
  });

  test("the loop's lag is the time since its last tick, on the clock both threads read", () => {
    const watchdog = new Watchdog();
    assert.ok(readWatchdog(watchdog.buffer, clock() + 700).loopLagMs >= 700);
    assert.ok(readWatchdog(watchdog.buffer).loopLagMs < 500);
  });

  test("uncounted, a request starts at the last tick, read without the clock; counted, at the clock's now", () => {
    const spin = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) { /* the clock moves on, the ticks do not */ }
    };
    const quiet = new Watchdog({ countResponses: false });
    const ticked = quiet.startTime();
    spin(20);
    assert.equal(quiet.startTime(), ticked);
    // The age shown is the time since that tick: never less than the request's own.
    const slot = quiet.begin(new Request("http://h/slow"), quiet.startTime());
    assert.ok((readWatchdog(quiet.buffer).inFlight[0]?.ageMs ?? 0) >= 20);
    quiet.end(slot, ticked, new Response("ok"));
    quiet.tick();
    assert.ok(quiet.startTime() >= ticked + 20);
    const counted = new Watchdog();
    const first = counted.startTime();
    spin(5);
    assert.ok(counted.startTime() >= first + 5);
  });
});
