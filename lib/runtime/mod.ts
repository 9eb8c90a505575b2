/**
 * Picks the runtime implementation. The only place that asks which
 * runtime this is.
 * @module
 */
import type { Runtime } from "./types.ts";

export type * from "./types.ts";

/** The runtime corral is running on. */
export const runtime: Runtime = "Bun" in globalThis
  ? (await import("./bun.ts")).bunRuntime
  : (await import("./deno.ts")).denoRuntime;
