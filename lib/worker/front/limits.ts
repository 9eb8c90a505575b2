/**
 * Request limits, checked before the app runs: the request line (414), the
 * header fields (431) and the body (413). The runtimes' parsers have caps of
 * their own, far above Gunicorn's defaults (docs/http.md).
 * @module
 */
import type { Handler } from "../../runtime/types.ts";
import type { Settings } from "../../config/settings.ts";
import { plainResponse } from "./_responses.ts";
import type { ProxyFields } from "./proxy.ts";

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

// A refusal leaves the connection to the runtime, which ends it after a
// body it did not read: Deno adds `Connection: close`, Bun reads and drops
// the rest or closes. A `Connection: close` of ours made Bun reset the
// connection before the client, still sending, could read the refusal
// (measured: no status in 10 of 10 tries of 64 MiB bodies; with the runtime
// deciding, 10 of 10 got it, and Deno gave it either way).

/** 413, for a body past --limit-request-body. */
export function tooLarge(limit: number): Response {
  return plainResponse(413, "Content Too Large", `The request body is over ${limit} bytes.`);
}

/** Length of `METHOD SP target SP HTTP/1.1`, from what the runtime parsed. */
function _lineLength(request: Request): number {
  const url = request.url;
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return request.method.length + (path < 0 ? 1 : url.length - path) + 10;
}

/**
 * One walk over a request's header fields, for everything the front needs
 * from them: the count, the first field too long, the Content-Length, the
 * proxy headers, and the fields the default access log shows. A single
 * `forEach` costs less than several `get`s; one scanner is reused for
 * every request of a worker, so its fields are those of the request being
 * walked until the next walk: read them synchronously.
 */
export class FieldScan implements ProxyFields {
  count = 0;
  /** Name of the first field over the size limit, if any. */
  tooLong: string | null = null;
  contentLength: string | null = null;
  /** The fields the default access log format shows. */
  authorization: string | null = null;
  referer: string | null = null;
  userAgent: string | null = null;
  forwarded: string | null = null;
  xForwardedFor: string | null = null;
  xForwardedProto: string | null = null;
  xForwardedHost: string | null = null;
  /** Whether one of the proxy headers is present. */
  proxied = false;
  #fieldSize = Infinity;
  readonly #visit = (value: string, name: string): void => {
    this.count++;
    if (name.length + value.length + 2 > this.#fieldSize && this.tooLong === null) this.tooLong = name;
    const first = name.charCodeAt(0);
    if (first === 120 /* x */) {
      if (name === "x-forwarded-for") this.xForwardedFor = value;
      else if (name === "x-forwarded-proto") this.xForwardedProto = value;
      else if (name === "x-forwarded-host") this.xForwardedHost = value;
      else return;
      this.proxied = true;
    } else if (first === 102 /* f */) {
      if (name === "forwarded") {
        this.forwarded = value;
        this.proxied = true;
      }
    } else if (first === 99 /* c */) {
      if (name === "content-length") this.contentLength = value;
    } else if (first === 117 /* u */) {
      if (name === "user-agent") this.userAgent = value;
    } else if (first === 114 /* r */) {
      if (name === "referer") this.referer = value;
    } else if (first === 97 /* a */ && name === "authorization") this.authorization = value;
  };

  /** Walks `headers`; a field longer than `fieldSize` (0: unchecked) is noted in {@link tooLong}. */
  run(headers: Headers, fieldSize: number): this {
    this.count = 0;
    this.tooLong = null;
    this.contentLength = null;
    this.authorization = null;
    this.referer = null;
    this.userAgent = null;
    this.forwarded = null;
    this.xForwardedFor = null;
    this.xForwardedProto = null;
    this.xForwardedHost = null;
    this.proxied = false;
    this.#fieldSize = fieldSize > 0 ? fieldSize : Infinity;
    // forEach, not for..of: Deno's Headers iterator builds a sorted copy.
    headers.forEach(this.#visit);
    return this;
  }
}

/** Whether checking `limits` needs the header fields walked. */
export function limitsNeedFields(limits: Limits): boolean {
  return limits.fields > 0 || limits.fieldSize > 0 || limits.body > 0;
}

/**
 * The refusal a request gets for breaking a limit, or null if it keeps
 * them all. `scan` is its header fields, walked with `limits.fieldSize`.
 */
export function refusalOf(request: Request, limits: Limits, scan: FieldScan): Response | null {
  if (limits.line > 0 && _lineLength(request) > limits.line) {
    return plainResponse(414, "URI Too Long", `The request line is over ${limits.line} bytes.`);
  }
  if (scan.tooLong !== null) {
    return plainResponse(
      431,
      "Request Header Fields Too Large",
      `The header "${scan.tooLong}" is too long.`,
    );
  }
  if (limits.fields > 0 && scan.count > limits.fields) {
    return plainResponse(
      431,
      "Request Header Fields Too Large",
      `The request has ${scan.count} header fields; at most ${limits.fields} are allowed.`,
    );
  }
  if (limits.body > 0 && scan.contentLength !== null && Number(scan.contentLength) > limits.body) {
    return tooLarge(limits.body);
  }
  return null;
}

/** The refusal a request gets for breaking a limit, or null if it keeps them all. */
export function checkRequest(request: Request, limits: Limits): Response | null {
  const scan = new FieldScan();
  if (limitsNeedFields(limits)) scan.run(request.headers, limits.fieldSize);
  return refusalOf(request, limits, scan);
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
