/**
 * The WebSockets a worker's app has open, kept by each runtime's side of
 * the seam so that a stopping worker can wait for them and close them.
 * @module
 */
import type { WebSockets } from "./types.ts";

/** A set of open sockets of one runtime's kind, with a way to close each. */
export class SocketRegistry<S> implements WebSockets {
  readonly #open = new Set<S>();
  readonly #close: (socket: S, code: number, reason: string) => void;
  #waiting: (() => void)[] = [];

  constructor(close: (socket: S, code: number, reason: string) => void) {
    this.#close = close;
  }

  get open(): number {
    return this.#open.size;
  }

  add(socket: S): void {
    this.#open.add(socket);
  }

  delete(socket: S): void {
    if (!this.#open.delete(socket) || this.#open.size > 0) return;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** Resolves once none is open. */
  closed(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  closeAll(code: number, reason: string): void {
    for (const socket of [...this.#open]) {
      try {
        this.#close(socket, code, reason);
      } catch {
        // Not open yet, or gone already: it leaves the set through its close event.
      }
    }
  }
}
