/** A small steady load for zero-loss tests: N clients, a new connection per request. */
import assert from "node:assert/strict";
import { get } from "./http.ts";

export interface LoadResult {
  requests: number;
  failed: number;
  errors: string[];
  pids: Set<string>;
}

/**
 * Runs `clients` request loops against `url` until `stop()` is called;
 * bounded by `maxMs`. With `socketPath`, over that unix socket.
 */
export function startLoad(url: string, clients = 4, maxMs = 30_000, socketPath?: string) {
  const result: LoadResult = { requests: 0, failed: 0, errors: [], pids: new Set() };
  let running = true;
  const deadline = Date.now() + maxMs;
  const loop = async () => {
    while (running && Date.now() < deadline) {
      result.requests++;
      try {
        const reply = await get(url, { timeoutMs: 10_000, ...(socketPath ? { socketPath } : {}) });
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
 * Asserts a zero-loss run: nothing may fail, on either runtime. (On Deno
 * this holds because a stopping worker detaches its listeners first:
 * lib/runtime/_sockets.ts, docs/RELIABILITY.md.)
 */
export function assertNoLoss(result: LoadResult): void {
  assert.equal(
    result.failed,
    0,
    `${result.failed} of ${result.requests} failed: ${result.errors.join("; ")}`,
  );
}
