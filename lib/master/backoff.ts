/**
 * The master's back-off for workers that keep failing: a worker that dies
 * before it serves, or one the system refuses to start (EMFILE, EAGAIN,
 * ENOMEM), delays the next spawn: 100 ms, then twice as long each time,
 * 10 s at most. A burst of failures is logged on its 1st, 2nd, 4th, 8th...
 * failure, so a crash loop costs little and logs little. It ends once the
 * whole pool has served for {@link STABLE_MS}.
 * @module
 */

/** Longest wait before a worker that keeps failing is spawned again. */
export const MAX_BACKOFF_MS = 10_000;
/** A worker that dies sooner than this after its spawn counts as a failed boot. */
export const STABLE_MS = 3_000;

/** Consecutive failures and when the next spawn may happen. */
export class Backoff {
  #failures = 0;
  #until = 0;

  /** Failures in a row. */
  get failures(): number {
    return this.#failures;
  }

  /** Milliseconds until a spawn is allowed; 0 when it is now. */
  wait(now = Date.now()): number {
    return Math.max(0, this.#until - now);
  }

  /**
   * Counts one failure and pushes the next spawn back. Returns the delay,
   * and whether this failure should be logged (a power of two in a row).
   */
  fail(now = Date.now()): { readonly delayMs: number; readonly log: boolean } {
    this.#failures += 1;
    const delayMs = Math.min(100 * 2 ** (this.#failures - 1), MAX_BACKOFF_MS);
    this.#until = now + delayMs;
    return { delayMs, log: (this.#failures & (this.#failures - 1)) === 0 };
  }

  /** Starts afresh (the pool is stable, or a reload begins). */
  reset(): void {
    this.#failures = 0;
    this.#until = 0;
  }
}
