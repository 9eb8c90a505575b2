/**
 * Backpressure: a cap on the requests a worker runs at once, and a
 * deadline for each. Both answer 503 at once rather than let work queue.
 * @module
 */
import { logger } from "../../log.ts";
import { sys, type Timer } from "../../runtime/sys.ts";
import type { Handler } from "../../runtime/types.ts";
import { plainResponse } from "./_responses.ts";
import { requestTarget } from "./access_format.ts";

/** The client may try again after this many seconds. */
const RETRY_AFTER_S = 1;

/** Requests in flight, shared by every handler a worker's front wraps (the app's and its routes). */
export interface InFlight {
  n: number;
}

/**
 * Past `max` requests in flight, answers 503 with Retry-After at once
 * instead of queueing without bound. A request is in flight until its
 * handler returns its response (not while the body streams out).
 */
export function withMaxConcurrency(next: Handler, max: number, counter: InFlight = { n: 0 }): Handler {
  const done = () => {
    counter.n--;
  };
  return (request, info) => {
    if (counter.n >= max) {
      return plainResponse(503, "Service Unavailable", `The server is busy (${max} requests in flight).`, {
        "retry-after": String(RETRY_AFTER_S),
      });
    }
    counter.n++;
    let result;
    try {
      result = next(request, info);
    } catch (err) {
      counter.n--;
      throw err;
    }
    if (result instanceof Promise) return result.finally(done);
    counter.n--;
    return result;
  };
}

/** A request waiting on its handler, in a list ordered by deadline. */
interface _Pending {
  readonly deadline: number;
  readonly request: Request;
  readonly resolve: (response: Response | undefined) => void;
  prev: _Pending | null;
  next: _Pending | null;
  settled: boolean;
}

/**
 * A handler that has not returned its response after `seconds` is
 * answered 503 and logged. JavaScript cannot stop the handler: it runs on
 * and its response is dropped. A handler that answers synchronously has
 * nothing to time. Every request has the same deadline, so the requests
 * waiting are a list in deadline order and one timer serves them all.
 */
export function withRequestTimeout(next: Handler, seconds: number): Handler {
  const ms = seconds * 1000;
  const log = logger("http");
  let head: _Pending | null = null;
  let tail: _Pending | null = null;
  let timer: Timer | undefined;

  const unlink = (p: _Pending) => {
    p.settled = true;
    if (p.prev) p.prev.next = p.next;
    else head = p.next;
    if (p.next) p.next.prev = p.prev;
    else tail = p.prev;
  };
  const expire = () => {
    timer = undefined;
    const now = performance.now();
    while (head !== null && head.deadline <= now) {
      const p = head;
      unlink(p);
      log.error("Request timed out after {seconds} s: {method} {target}", {
        seconds,
        method: p.request.method,
        target: requestTarget(p.request.url),
      });
      p.resolve(plainResponse(503, "Service Unavailable", `The request took longer than ${seconds} s.`));
    }
    schedule();
  };
  const schedule = () => {
    if (timer === undefined && head !== null) timer = sys.after(head.deadline - performance.now(), expire);
  };

  return (request, info) => {
    const result = next(request, info);
    if (!(result instanceof Promise)) return result;
    return new Promise<Response | undefined>((resolve, reject) => {
      const p: _Pending = {
        deadline: performance.now() + ms,
        request,
        resolve,
        prev: tail,
        next: null,
        settled: false,
      };
      if (tail) tail.next = p;
      else head = p;
      tail = p;
      schedule();
      result.then((response) => {
        if (p.settled) return;
        unlink(p);
        resolve(response);
      }, (err) => {
        if (p.settled) return;
        unlink(p);
        reject(err);
      });
    });
  };
}
