/**
 * Request limits, checked before the app runs: the request line (414), the
 * header fields (431) and the body (413). The runtimes' parsers have caps of
 * their own, far above Gunicorn's defaults (docs/http.md).
 * @module
 */
import type { Handler } from "../runtime/types.ts";
import type { Settings } from "../settings.ts";
import { plainResponse } from "./_responses.ts";

/** The limits in force; 0 is "not checked by corral". */
export interface Limits {
  readonly line: number;
  readonly fields: number;
  readonly fieldSize: number;
  readonly body: number;
}

/** The limits the settings turn on, or null when none is. */
export function limitsOf(settings: Readonly<Settings>): Limits | null {
  const limits = {
    line: settings.limitRequestLine,
    fields: settings.limitRequestFields,
    fieldSize: settings.limitRequestFieldSize,
    body: settings.limitRequestBody,
  };
  return limits.line > 0 || limits.fields > 0 || limits.fieldSize > 0 || limits.body > 0 ? limits : null;
}

// The connection is closed after a refusal: the client may still be
// sending what was refused.
const _CLOSE = { connection: "close" };

/** 413, for a body past --limit-request-body. */
export function tooLarge(limit: number): Response {
  return plainResponse(413, "Content Too Large", `The request body is over ${limit} bytes.`, _CLOSE);
}

/** Length of `METHOD SP target SP HTTP/1.1`, from what the runtime parsed. */
function _lineLength(request: Request): number {
  const url = request.url;
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return request.method.length + (path < 0 ? 1 : url.length - path) + 10;
}

function _checkFields(request: Request, limits: Limits): Response | null {
  let count = 0;
  let tooLong: string | null = null;
  // forEach, not for..of: Deno's Headers iterator builds a sorted copy.
  request.headers.forEach((value, name) => {
    count++;
    if (limits.fieldSize > 0 && tooLong === null && name.length + value.length + 2 > limits.fieldSize) {
      tooLong = name;
    }
  });
  if (tooLong !== null) {
    return plainResponse(
      431,
      "Request Header Fields Too Large",
      `The header "${tooLong}" is too long.`,
      _CLOSE,
    );
  }
  if (limits.fields > 0 && count > limits.fields) {
    return plainResponse(
      431,
      "Request Header Fields Too Large",
      `The request has ${count} header fields; at most ${limits.fields} are allowed.`,
      _CLOSE,
    );
  }
  return null;
}

/** The refusal a request gets for breaking a limit, or null if it keeps them all. */
export function checkRequest(request: Request, limits: Limits): Response | null {
  if (limits.line > 0 && _lineLength(request) > limits.line) {
    return plainResponse(414, "URI Too Long", `The request line is over ${limits.line} bytes.`, _CLOSE);
  }
  if (limits.fields > 0 || limits.fieldSize > 0) {
    const refused = _checkFields(request, limits);
    if (refused) return refused;
  }
  if (limits.body > 0) {
    const length = request.headers.get("content-length");
    if (length !== null && Number(length) > limits.body) return tooLarge(limits.body);
  }
  return null;
}

/** Refuses requests that break a limit; the others go to `next` untouched. */
export function withLimits(next: Handler, limits: Limits): Handler {
  return (request, info) => checkRequest(request, limits) ?? next(request, info);
}

/** Thrown into the app's read of a body that passed the limit. */
class _BodyTooLarge extends RangeError {}

/**
 * Counts a body without a Content-Length (chunked, or an HTTP/2 stream) as
 * the app reads it, chunk by chunk, never holding it: past `limit` bytes
 * the app's read fails and the client gets 413, whatever the app returns.
 */
export function withBodyLimit(next: Handler, limit: number): Handler {
  return (request, info) => {
    const headers = request.headers;
    if (headers.get("content-length") !== null) return next(request, info);
    // Reading request.body makes the runtime build a stream: skip it where
    // there is no body (HTTP/2 bodies come without Transfer-Encoding).
    const method = request.method;
    if ((method === "GET" || method === "HEAD") && headers.get("transfer-encoding") === null) {
      return next(request, info);
    }
    const body = request.body;
    if (body === null) return next(request, info);
    let exceeded = false;
    const counted = body.pipeThrough(_counter(limit, () => exceeded = true));
    const limited = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: counted,
      signal: request.signal,
      duplex: "half",
    } as RequestInit);
    return Promise.resolve()
      .then(() => next(limited, info))
      .then((response) => exceeded ? tooLarge(limit) : response, (err) => {
        if (exceeded) return tooLarge(limit);
        throw err;
      });
  };
}

function _counter(limit: number, onExceeded: () => void): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen <= limit) return controller.enqueue(chunk);
      onExceeded();
      controller.error(new _BodyTooLarge(`The request body is over --limit-request-body (${limit} bytes)`));
    },
  });
}
