/**
 * Deno's own record of a request its server gave: an own symbol-keyed
 * property of the Request (Deno 2.9 names the symbol "request"). It
 * answers a header field by name without making the Request's Headers
 * object (runtime/fields.ts), and the client's address before an upgrade
 * (runtime/deno.ts). Not Deno's API: null for a Request made in JavaScript,
 * or where a Deno release moved it, and the callers then do without.
 * @module
 */

/** What corral reads of Deno's record of a served request. */
export interface DenoRecord {
  /** One field's value by name; throws once the request is answered. */
  header(name: string): string | null;
  /** The client; throws once the request is answered or upgraded. */
  readonly remoteAddr: unknown;
}

/** The own symbol under which a Deno Request keeps its record; null once looked for in vain. */
let _key: symbol | null | undefined;

/** Deno's record of `request`, or null when it has none (see the module's text). */
export function denoRecord(request: Request): DenoRecord | null {
  if (_key === undefined) {
    _key = Object.getOwnPropertySymbols(request).find((key) => key.description === "request") ?? null;
  }
  if (_key === null) return null;
  const record = (request as unknown as Record<symbol, object | undefined>)[_key];
  return typeof record === "object" && typeof (record as Partial<DenoRecord>).header === "function" &&
      "remoteAddr" in record
    ? record as DenoRecord
    : null;
}
