/**
 * The gate every request passes before the app: trusted proxy headers and
 * the request limits, from one walk over the header fields. It is the
 * front's default path, so it does as little as it can. With the field
 * limits on, one `forEach`; without them (the defaults), the four proxy
 * headers asked of the runtime by name (runtime/fields.ts: on Deno without
 * making its Headers object, which makes Deno.serve copy them all; on Bun
 * through the Headers); and one look at the URL's length.
 * @module
 */
import type { Handler, ServeInfo } from "../../runtime/types.ts";
import type { AllowIps } from "./allow_ips.ts";
import { FieldScan, type Limits, limitsNeedFields, refusalOf } from "./limits.ts";
import { applyForwarded, requestProxyFields } from "./proxy.ts";
import { frontFailed } from "./_guard.ts";

/** Whether the gate walks every request's fields (so its {@link FieldScan} is of the request at hand). */
export function gateWalks(limits: Limits | null): boolean {
  return limits !== null && limitsNeedFields(limits);
}

/** Called with each refusal (to log it); returns what the client gets. */
export type OnRefusal = (request: Request, info: ServeInfo, response: Response) => Response;

/**
 * Applies trusted proxy headers (when `allow` is given), then refuses
 * requests that break `limits` (when given); the others go to `next`.
 * A refusal is judged on the request as the app would have seen it, and
 * handed to `onRefusal`.
 */
export function withGate(
  next: Handler,
  limits: Limits | null,
  allow: AllowIps | null,
  onRefusal?: OnRefusal,
  scan: FieldScan = new FieldScan(),
): Handler {
  const walk = gateWalks(limits);
  const fieldSize = limits?.fieldSize ?? 0;
  return (request, info) => {
    let refusal: Response | null = null;
    try {
      if (walk) scan.run(request.headers, fieldSize);
      if (allow !== null) {
        const fields = walk ? (scan.proxied ? scan : null) : requestProxyFields(request);
        if (fields !== null) {
          const seen = applyForwarded(request, info, allow, fields);
          request = seen.request;
          info = seen.info;
        }
      }
      if (limits !== null) refusal = refusalOf(request, limits, scan);
    } catch (err) {
      frontFailed("proxy headers and limits", err);
    }
    if (refusal !== null) return onRefusal ? onRefusal(request, info, refusal) : refusal;
    return next(request, info);
  };
}
