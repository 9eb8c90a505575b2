/** A small steady load for zero-loss tests: N clients, a new connection per request. */
import assert from "node:assert/strict";
import { IS_BUN } from "./corral.ts";
import { get } from "./http.ts";

export interface LoadResult {
  requests: number;
  failed: number;
  errors: string[];
  pids: Set<string>;
}

/** Runs `clients` request loops against `url` until `stop()` is called; bounded by `maxMs`. */
export function startLoad(url: string, clients = 4, maxMs = 30_000) {
  const result: LoadResult = { requests: 0, failed: 0, errors: [], pids: new Set() };
  let running = true;
  const deadline = Date.now() + maxMs;
  const loop = async () => {
    while (running && Date.now() < deadline) {
      result.requests++;
      try {
        const reply = await get(url, { timeoutMs: 10_000 });
        if (reply.status !== 200) throw new Error(`status ${reply.status}`);
        result.pids.add(reply.body);
      } catch (err) {
        result.failed++;
        if (result.errors.length < 1000) result.errors.push(String((err as Error).message ?? err));
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}

/**
 * Asserts a zero-loss run. On Bun nothing may fail. On Deno, `shutdown()`
 * closes a connection it accepted but has not read yet, and corral cannot
 * reach inside it (denoland/deno#31959, docs/RELIABILITY.md): a handful of
 * brand-new connections may be closed unanswered ("socket hang up"), and
 * nothing else: no reset, no refusal, no error status.
 */
export function assertNoLoss(result: LoadResult, events: number): void {
  const why = result.errors.join("; ");
  if (IS_BUN) return assert.equal(result.failed, 0, why);
  assert.ok(result.errors.every((e) => e === "socket hang up"), why);
  const bound = Math.max(2 * events, Math.ceil(result.requests * 0.005));
  assert.ok(
    result.failed <= bound,
    `${result.failed} of ${result.requests} failed (at most ${bound}): ${why}`,
  );
}
