/**
 * The master's generations: each HUP reload starts a new one, with the
 * settings read again. The newest is the one the pool is built toward; a
 * reload is pending until as many of its workers serve as the target.
 * A HUP during a pending reload supersedes the pending generation (its
 * booting workers are stopped), never the workers that serve. A reload
 * whose workers cannot boot falls back to the newest generation that
 * still has workers serving, with its settings.
 * @module
 */
import type { Settings } from "../config/settings.ts";
import { accepting, supersede, type WorkerRecord } from "./pool.ts";

/** What to do with the workers when a reload fails (see {@link Generations.fail}). */
export interface Fallback {
  /** The generation that is current again, or null when no worker serves to fall back to. */
  readonly restored: Generation | null;
  /** The failed generation's workers that never served: stop them. */
  readonly stop: readonly WorkerRecord[];
  /** The failed generation's workers that serve: replace them. */
  readonly replace: readonly WorkerRecord[];
  /** The restored generation's workers that were outgoing for the reload: they serve on. */
  readonly resume: readonly WorkerRecord[];
}

/**
 * One generation: the settings its workers boot with, and its target
 * number of workers (TTIN and TTOU change the current one's).
 */
export interface Generation {
  readonly number: number;
  readonly settings: Settings;
  workers: number;
}

/** The generations a master has started, and which reload is pending. */
export class Generations {
  readonly #all = new Map<number, Generation>();
  #current: Generation;
  /** The generation a pending reload waits for, or null. */
  #pending: number | null = null;

  constructor(settings: Settings) {
    this.#current = { number: 1, settings, workers: settings.workers };
    this.#all.set(1, this.#current);
  }

  /** The generation new workers are spawned in. */
  get current(): Generation {
    return this.#current;
  }

  /** Whether a reload waits for its workers to serve. */
  get pending(): boolean {
    return this.#pending !== null;
  }

  /**
   * Starts a reload: a new generation with `settings` and a target of
   * `workers`, which supersedes any pending one. Returns the workers that
   * serve, to replace, and those of a pending reload still booting, to stop.
   */
  begin(settings: Settings, workers: number, records: Iterable<WorkerRecord>): ReturnType<typeof supersede> {
    const next: Generation = { number: this.#current.number + 1, settings, workers };
    this.#all.set(next.number, next);
    this.#current = next;
    this.#pending = next.number;
    return supersede(records);
  }

  /** The pending reload is done: its workers serve. True when one was pending. */
  complete(): boolean {
    if (this.#pending === null || this.#pending !== this.#current.number) return false;
    this.#pending = null;
    return true;
  }

  /** Whether a failure of a worker of `generation` fails the pending reload. */
  failsReload(generation: number): boolean {
    return this.#pending !== null && generation === this.#pending;
  }

  /**
   * The pending reload failed: the newest generation that still has
   * workers serving becomes current again, with its settings and target.
   * When no worker serves at all there is nothing to fall back to, and the
   * current generation stays (its spawns then back off).
   */
  fail(records: readonly WorkerRecord[]): Fallback {
    const failed = this.#current.number;
    this.#pending = null;
    const older = records.filter((w) => accepting(w) && w.generation !== failed).map((w) => w.generation);
    const restored = older.length ? this.#all.get(Math.max(...older)) ?? null : null;
    if (restored) this.#current = restored;
    const mine = records.filter((w) => w.generation === failed && !w.exited);
    return {
      restored,
      stop: mine.filter((w) => w.state === "booting"),
      replace: restored ? mine.filter((w) => w.state === "serving") : [],
      resume: restored
        ? records.filter((w) =>
          w.generation === restored.number && w.state === "outgoing" && w.replacedFor === "reload"
        )
        : [],
    };
  }

  /** Forgets the generations no live worker belongs to any more (but the current one). */
  prune(live: Iterable<number>): void {
    const keep = new Set(live);
    for (const n of this.#all.keys()) {
      if (n !== this.#current.number && !keep.has(n)) this.#all.delete(n);
    }
  }
}
