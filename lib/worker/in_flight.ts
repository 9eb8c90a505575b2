/**
 * The requests a worker's app holds: those handed to the handler whose
 * Response has not been returned yet, and (where the runtime tells, Deno)
 * those whose streamed body is still being sent. The runtime's connection
 * watcher reads it only when a connection looks too slow or idle: to tell
 * a head still arriving (not here) from a request the app works on (here),
 * and a connection waiting for its client from one whose answer is not
 * done (a request pipelined behind another, a pause in a stream); see
 * lib/runtime/_exchange.ts and _watcher.ts. Per request it costs two array
 * stores and a free-list push and pop: no allocation once it has grown to
 * the worker's busiest moment.
 * @module
 */
import type { InFlightRequests, ServeInfo } from "../runtime/types.ts";

/** A worker's requests in flight. */
export class InFlight implements InFlightRequests {
  readonly #requests: (Request | undefined)[] = [];
  readonly #infos: (ServeInfo | undefined)[] = [];
  readonly #free: number[] = [];
  #size = 0;
  readonly #whenSent: (response: Response, info: ServeInfo) => Promise<void> | null;

  /** `whenSent`: the runtime's (`Runtime.whenSent`), for a streamed body; by default none is waited for. */
  constructor(whenSent: (response: Response, info: ServeInfo) => Promise<void> | null = () => null) {
    this.#whenSent = whenSent;
  }

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

  /**
   * The app answered request `id` with `response` (undefined: an upgrade):
   * forgets it now, or once the runtime has sent a streamed body (a pause
   * in a stream must not look like an idle connection to the watcher).
   */
  answered(id: number, response: Response | undefined, info: ServeInfo): void {
    const sent = response === undefined ? null : this.#whenSent(response, info);
    if (sent === null) return this.delete(id);
    const forget = () => this.delete(id);
    sent.then(forget, forget);
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
