/** The short plain-text answers the front gives instead of the app. */
import { type ServeInfo, UPGRADED } from "../../runtime/types.ts";

/**
 * The status a request was answered with: 101 when the app upgraded its
 * connection through the runtime's own API (Bun's `server.upgrade()`, after
 * which Bun sends no response of the handler's: Hono's is a 200, a bare
 * Bun handler's is nothing), else the response's.
 */
export function statusOf(response: Response | undefined, info: ServeInfo): number {
  return response === undefined || info[UPGRADED] === true ? 101 : response.status;
}

/** A plain-text response: the status line's reason, and `detail` on a second line. */
export function plainResponse(
  status: number,
  reason: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${reason}\n${detail}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * Whether `request` came with a body (a length, or a transfer coding) that
 * nobody has started to read.
 */
export function hasUnreadBody(request: Request): boolean {
  const headers = request.headers;
  const length = headers.get("content-length");
  if ((length === null || length === "0") && headers.get("transfer-encoding") === null) return false;
  return !request.bodyUsed;
}

/**
 * `response` with `Connection: close`, so the client closes the connection
 * after it. A protocol switch (101, WebSocket) is left alone, and so is the
 * answer to a `request` whose body the app did not read: the runtime ends
 * that connection itself, and with our header Bun reset it before a client
 * still sending the body could read the answer (see `tooLarge` in limits.ts).
 */
export function withConnectionClose<R extends Response | undefined>(response: R, request?: Request): R {
  if (response === undefined || response.status === 101) return response;
  if (request !== undefined && hasUnreadBody(request)) return response;
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (Response.redirect, a fetch() response): copy them.
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy as R;
  }
}
