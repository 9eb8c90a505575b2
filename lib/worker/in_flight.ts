/**
 * The requests a worker's app holds: those handed to the handler whose
 * Response has not been returned yet. The runtime's connection watcher
 * reads it only when a connection looks too slow, to tell a head still
 * arriving (not here) from a request the app works on (here); see
 * lib/runtime/_exchange.ts. Per request it costs two array stores and a
 * free-list push and pop: no allocation once it has grown to the worker's
 * busiest moment.
 * @module
 */
import type { InFlightRequests, ServeInfo } from "../runtime/types.ts";

/** A worker's requests in flight. */
export class InFlight implements InFlightRequests {
  readonly #requests: (Request | undefined)[] = [];
  readonly #infos: (ServeInfo | undefined)[] = [];
  readonly #free: number[] = [];
  #size = 0;

  /** Requests in flight now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Records a request handed to the app; returns the id {@link delete} takes.
   *
   * @example
   * ```ts
   * const inFlight = new InFlight();
   * const id = inFlight.add(new Request("http://h/"), { remoteAddr: { transport: "unix", path: "" } });
   * inFlight.delete(id);
   * ```
   */
  add(request: Request, info: ServeInfo): number {
    const id = this.#free.length > 0 ? this.#free.pop() as number : this.#requests.length;
    this.#requests[id] = request;
    this.#infos[id] = info;
    this.#size++;
    return id;
  }

  /** Forgets the request recorded as `id`: the app has returned its Response (or thrown). */
  delete(id: number): void {
    this.#requests[id] = undefined;
    this.#infos[id] = undefined;
    this.#free.push(id);
    this.#size--;
  }

  /** Calls `fn` for each request in flight. */
  forEach(fn: (request: Request, info: ServeInfo) => void): void {
    const requests = this.#requests;
    for (let id = 0; id < requests.length; id++) {
      const request = requests[id];
      if (request !== undefined) fn(request, this.#infos[id] as ServeInfo);
    }
  }
}
