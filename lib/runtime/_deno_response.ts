/**
 * Whether a Response given to Deno.serve has a body Deno sends as a
 * stream (one the app may still be writing), told without the Response's
 * `body` or `headers`: reading either costs Deno the fast path it keeps for
 * a static body (runtime/response_length.ts). Deno 2.9 keeps its record of
 * a Response under an own symbol-keyed property, "response"; its `body` is
 * null for no body or a lazily kept string or bytes, and otherwise holds
 * `streamOrStatic`, a ReadableStream for a stream. Not Deno's API: where
 * the record is not found (a Deno release that moved it), every response
 * counts as a stream, which is only slower.
 * @module
 */

/** The own symbol of Deno's record of a Response; null once looked for in vain. */
let _key: symbol | null | undefined;

type _Record = { readonly body?: { readonly streamOrStatic?: unknown } | null };

/**
 * Whether Deno sends `response`'s body as a stream.
 *
 * @example
 * ```ts
 * streamsBody(new Response("hi")); // false
 * streamsBody(new Response(new ReadableStream())); // true
 * ```
 */
export function streamsBody(response: Response): boolean {
  if (_key === undefined) {
    if (!(response instanceof Response)) return true; // not one to learn the key from
    _key = Object.getOwnPropertySymbols(response).find((key) => key.description === "response") ?? null;
  }
  if (_key === null) return true;
  const record = (response as unknown as Record<symbol, _Record | undefined>)[_key];
  if (record === undefined || record.body === undefined) return true;
  return record.body !== null && !_isStatic(record.body.streamOrStatic);
}

/** A static body's source in Deno's record: `{ body, consumed }`, not a stream. */
function _isStatic(source: unknown): boolean {
  return source !== null && typeof source === "object" && !(source instanceof ReadableStream) &&
    "consumed" in source;
}
