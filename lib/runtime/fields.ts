/**
 * Whether a request may carry some header fields, asked the cheapest way
 * the runtime has: the front looks for the proxy headers on every request,
 * and most requests have none.
 *
 * On Deno, the first read of a served request's `headers` costs more than
 * the read: Deno.serve then copies every field of that request before it
 * answers, and answers through a promise even a Response returned at once
 * (Deno 2.9's `requestHeadersExposed`). Measured on a hello-world worker:
 * the four proxy headers looked up there cost 0.68 µs a request more than
 * asked of the record (docs/BENCHMARKS.md, "Issue #17, fourth"). Deno's own record of a served
 * request answers a field by name without that. Where the record is not
 * there (a Request made in JavaScript, a Deno release that moved it) or on
 * Bun, the answer is "maybe", and the caller reads `headers` as before.
 * @module
 */
import { denoRecord } from "./_deno_record.ts";

function _denoMayHave(request: Request, names: readonly string[]): boolean {
  const record = denoRecord(request);
  if (record === null) return true;
  try {
    for (const name of names) if (record.header(name) !== null) return true;
    return false;
  } catch { // the request is answered already: its Headers object still has its fields
    return true;
  }
}

/**
 * False when the runtime knows that `request` has none of the header
 * fields `names` (lowercase); true when it has one, or when that cannot be
 * told without its `headers`.
 *
 * @example
 * ```ts
 * const fields = mayHaveFields(request, ["forwarded"]) ? request.headers.get("forwarded") : null;
 * ```
 */
export const mayHaveFields: (request: Request, names: readonly string[]) => boolean = "Deno" in globalThis
  ? _denoMayHave
  : () => true;
