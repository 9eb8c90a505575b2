/** The short plain-text answers the front gives instead of the app. */

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
export function withConnectionClose(response: Response, request?: Request): Response {
  if (response.status === 101) return response;
  if (request !== undefined && hasUnreadBody(request)) return response;
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (Response.redirect, a fetch() response): copy them.
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy;
  }
}
