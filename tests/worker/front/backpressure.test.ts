/** --request-timeout and --max-concurrency. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { withRequestTimeout } from "../../../lib/worker/front/backpressure.ts";
import { PEER } from "./_helpers.ts";

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
