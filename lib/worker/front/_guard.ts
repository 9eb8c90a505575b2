/**
 * corral's own per-request code (the access log, the proxy headers, the
 * limits, the counters) must never be what fails a request: when it
 * throws, the request goes on as if that part were off, and the failure is
 * logged once per part and message, with its cause, so that a bug costs a
 * line in the error log instead of a 500 per request or a stopped server.
 * @module
 */
import { describeError } from "../../errors.ts";
import { logger } from "../../log.ts";

const _seen = new Set<string>();
/** Distinct failures logged at most; past it, one more line says so. */
const _MAX_KINDS = 32;

/** Logs `error` of corral's `part` once per part and message. */
export function frontFailed(part: string, error: unknown): void {
  const cause = describeError(error);
  const key = `${part}\n${cause}`;
  if (_seen.has(key) || _seen.size > _MAX_KINDS) return;
  _seen.add(key);
  const more = _seen.size > _MAX_KINDS ? " (more failures of corral's own code will not be logged)" : "";
  logger("http").error(
    "corral's {part} failed: {cause}; the request was served without it (logged once){more}",
    { part, cause, more, error },
  );
}
