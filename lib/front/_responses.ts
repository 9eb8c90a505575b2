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
