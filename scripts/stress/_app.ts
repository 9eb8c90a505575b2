/**
 * The app scripts/stress/main.ts serves: every answer names the worker that
 * gave it (`x-pid`), so the load can tell workers apart, and takes
 * STRESS_DELAY_MS (default 0) so that requests are really in flight when
 * a worker is stopped or killed.
 * @module
 */
import process from "node:process";

const delayMs = Number(process.env.STRESS_DELAY_MS ?? 0);
const pid = String(process.pid);

export default {
  async fetch(_request: Request): Promise<Response> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return new Response("ok\n", { headers: { "content-type": "text/plain", "x-pid": pid } });
  },
};
