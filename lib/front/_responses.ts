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
 * `response` with `Connection: close`, so the client closes the connection
 * after it. A protocol switch (101, WebSocket) is left alone.
 */
export function withConnectionClose(response: Response): Response {
  if (response.status === 101) return response;
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
