/**
 * A response's declared Content-Length, asked without costing the runtime
 * its fast path: the access log's `%(b)s` and the metrics' byte count read
 * it for every response.
 *
 * On Deno, reading a Response's `headers` makes Deno 2.9 drop the fast
 * path it keeps for a static body (a string or bytes, with no header or
 * only a Content-Type): it builds the header list and the Headers object,
 * and serves the response the general way. On hello world with the access
 * log on, that was 0.18 to 0.44 µs a request in two A/Bs (docs/BENCHMARKS.md,
 * "Issue #17, fifth"). A response on that path has no Content-Length field (Deno counts
 * the body as it sends it), so its length is answered without the headers.
 * Deno marks the path with an own symbol-keyed property, "serve fast
 * status", nonzero while it holds. Not Deno's API: where the mark is not
 * found (Bun, a Deno release that moved it), the headers are read.
 * tests/runtime/response_length.test.ts holds the answer to the Headers'
 * for every kind of body, so a Deno release that changes this fails there.
 * @module
 */

/** The own symbol of Deno's fast-path mark on a Response; null once looked for in vain on one. */
let _fast: symbol | null | undefined;

/**
 * The value of `response`'s Content-Length field, or null when it has
 * none, as `response.headers.get("content-length")` gives it.
 *
 * @example
 * ```ts
 * const bytes = responseLength(new Response("hi")); // null: the runtime counts it as it sends
 * ```
 */
export function responseLength(response: Response): string | null {
  if (_fast === undefined && response instanceof Response) {
    _fast = Object.getOwnPropertySymbols(response).find((key) => key.description === "serve fast status") ??
      null;
  }
  if (_fast) {
    const status = (response as unknown as Record<symbol, unknown>)[_fast];
    if (typeof status === "number" && status > 0) return null;
  }
  return response.headers.get("content-length");
}
