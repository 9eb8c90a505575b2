/**
 * The master's queue: signal listeners, child exits and worker messages
 * only push; the master's one loop takes events off, one at a time.
 * @module
 */

/** A FIFO whose `next()` waits for the next event. */
export class EventQueue<T> {
  readonly #events: T[] = [];
  #wake: (() => void) | null = null;
  readonly #idle: T;

  /** `idle` is what `next()` returns when woken with nothing queued. */
  constructor(idle: T) {
    this.#idle = idle;
  }

  push(event: T): void {
    this.#events.push(event);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  next(): Promise<T> {
    const ready = this.#events.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => {
      this.#wake = () => resolve(this.#events.shift() ?? this.#idle);
    });
  }
}

/**
 * The master's timers, so that every one is cleared at its exit: a
 * periodic wake-up, and one-shot ones (a back-off's end) of which only the
 * soonest is kept.
 */
export class Timers {
  #all = new Set<ReturnType<typeof setTimeout>>();
  #soonest = 0;

  /** Calls `fn` every `ms`. */
  every(ms: number, fn: () => void): void {
    this.#all.add(setInterval(fn, ms));
  }

  /** Calls `fn` once in `ms`. */
  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#all.delete(timer);
      fn();
    }, ms);
    this.#all.add(timer);
  }

  /** Calls `wake` in `ms`, unless a wake-up already comes sooner. */
  wakeIn(ms: number, wake: () => void): void {
    const at = Date.now() + ms;
    if (this.#soonest > Date.now() && this.#soonest <= at) return;
    this.#soonest = at;
    this.after(ms, wake);
  }

  /** Clears every timer. */
  clear(): void {
    for (const t of this.#all) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.#all.clear();
  }
}
