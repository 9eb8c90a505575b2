/** The runtime seam's timer, on the runtime running the tests. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sys } from "../../lib/runtime/sys.ts";

describe("sys.after", () => {
  test("runs its function once, after its delay; a cancelled one never runs", async () => {
    const calls: string[] = [];
    const started = performance.now();
    let firedAt = 0;
    const cancelled = sys.after(10, () => calls.push("cancelled"));
    cancelled.cancel();
    await new Promise<void>((resolve) =>
      sys.after(30, () => {
        firedAt = performance.now();
        calls.push("fired");
        resolve();
      })
    );
    // Longer than both delays: the cancelled one had its time to run.
    await new Promise<void>((resolve) => sys.after(30, resolve));
    assert.deepEqual(calls, ["fired"]);
    // Timers may fire a millisecond early on some runtimes' clocks.
    assert.ok(firedAt - started >= 29, `fired after ${firedAt - started} ms`);
  });

  test("a negative or fractional delay is taken as it comes (a deadline already past runs at once)", async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      sys.after(-5, () => order.push("past"));
      sys.after(0.4, () => order.push("fraction"));
      sys.after(15, () => resolve());
    });
    assert.deepEqual(order.sort(), ["fraction", "past"]);
  });

  test("cancelling after it ran changes nothing", async () => {
    let runs = 0;
    const timer = sys.after(0, () => runs++);
    await new Promise<void>((resolve) => sys.after(20, resolve));
    timer.cancel();
    assert.equal(runs, 1);
  });
});
