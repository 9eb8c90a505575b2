/**
 * A request's header fields, asked the cheapest way the runtime has: the
 * front looks for the proxy headers on every request (and most requests
 * have none), and the access log reads three fields of every request.
 *
 * On Deno, the first read of a served request's `headers` costs more than
 * the read: Deno.serve then copies every field of that request before it
 * answers, and answers through a promise even a Response returned at once
 * (Deno 2.9's `requestHeadersExposed`). Measured on a hello-world worker:
 * the four proxy headers looked up there cost 0.68 µs a request more than
 * asked of the record (docs/BENCHMARKS.md, "Issue #17, fourth"). Deno's own
 * record of a served request answers a field by name without that, with
 * the value `Headers.get` gives: repeated fields joined with ", " (cookies
 * with "; "), over HTTP/1.1 and HTTP/2 alike (tests/runtime/fields.test.ts
 * checks both). Where the record is not there (a Request made in
 * JavaScript, a request already answered, a Deno release that moved it)
 * or on Bun, the runtime cannot tell, and the caller reads `headers`.
 * @module
 */
import { denoRecord } from "./_deno_record.ts";

function _denoValues(request: Request, names: readonly string[], into: (string | null)[]): boolean {
  const record = denoRecord(request);
  if (record === null) return false;
  try {
    for (let i = 0; i < names.length; i++) into[i] = record.header(names[i] as string);
    return true;
  } catch { // the request is answered already: its Headers object still has its fields
    return false;
  }
}

/**
 * Puts the values of the header fields `names` (lowercase) into `into`,
 * in their order, as `request.headers.get` gives them (null where absent),
 * and returns true; returns false when the runtime cannot tell them
 * without `headers` (then `into` means nothing). Allocates nothing, so the
 * front can ask it of every request with an array of its own.
 *
 * @example
 * ```ts
 * const values: (string | null)[] = [];
 * const agent = fieldValues(request, ["user-agent"], values) ? values[0] : request.headers.get("user-agent");
 * ```
 */
export const fieldValues: (request: Request, names: readonly string[], into: (string | null)[]) => boolean =
  "Deno" in globalThis ? _denoValues : () => false;
