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
