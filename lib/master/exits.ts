/**
 * What a worker's exit means, judged from its record alone: expected (it
 * was asked to stop), a crash (it had served), or a failed boot (it never
 * served), which on the first start halts the master, in a reload fails
 * the reload, and otherwise backs off the next spawn.
 * @module
 */
import { ExitCode } from "../errors.ts";
import type { ChildExit } from "../runtime/mod.ts";
import { STABLE_MS } from "./backoff.ts";
import type { WorkerRecord } from "./pool.ts";

/** The verdict of {@link judgeExit}. */
export type ExitVerdict =
  /** It was asked to stop. */
  | { readonly kind: "expected" }
  /** It had served; `early` when it died soon after its spawn (a crash loop, maybe). */
  | { readonly kind: "crash"; readonly how: string; readonly early: boolean }
  /** It never served and exited with a boot error code: its message, with the reason, may follow. */
  | { readonly kind: "boot_error"; readonly code: ExitCode; readonly reason: string }
  /** It never served and died otherwise. */
  | { readonly kind: "boot_failure"; readonly reason: string };

/** How a process ended, in words: `exited with code 1`, `was sent SIGKILL`. */
export function describeExit(status: ChildExit): string {
  return status.signal ? `was sent ${status.signal}` : `exited with code ${status.code}`;
}

/** Judges the exit of `worker` with `status` at `now`. */
export function judgeExit(worker: WorkerRecord, status: ChildExit, now = Date.now()): ExitVerdict {
  if (worker.state === "retiring") return { kind: "expected" };
  const how = describeExit(status);
  if (worker.state !== "booting") return { kind: "crash", how, early: now - worker.spawnedAt < STABLE_MS };
  const code = status.code;
  if (code === ExitCode.APP_LOAD_ERROR || code === ExitCode.WORKER_BOOT_ERROR) {
    return { kind: "boot_error", code, reason: `Worker (pid:${worker.pid}) failed to boot` };
  }
  return { kind: "boot_failure", reason: `Worker (pid:${worker.pid}) ${how} before it was ready` };
}
