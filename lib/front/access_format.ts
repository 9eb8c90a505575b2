/**
 * Access log formats: Gunicorn's `%(atom)s` strings, or `json`, compiled
 * once into a function from one request to one line.
 * @module
 */
import process from "node:process";
import type { RemoteAddr, ServeInfo } from "../runtime/types.ts";

/** Gunicorn's default access log format (the Common Log Format plus referer and user agent). */
export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** What one access log line is made of. */
export interface AccessRecord {
  readonly request: Request;
  /** The client as the app saw it in `info.remoteAddr` (after trusted proxy headers). */
  readonly info: ServeInfo;
  readonly response: Response;
  /** Milliseconds from the request reaching corral to the response being ready. */
  readonly ms: number;
  /** When the response was ready, in milliseconds since the epoch. */
  readonly time: number;
}

/** A compiled format. */
export interface AccessFormat {
  /** One record in, one line (without the newline) out. */
  readonly line: (record: AccessRecord) => string;
  /** Whether the line shows the request's duration, so it must be measured. */
  readonly timed: boolean;
}

type _Atom = (r: AccessRecord) => string;

// Neither Deno.serve nor Bun.serve tells the handler which HTTP version a
// request came in with; HTTP/2 requests over TLS are logged as HTTP/1.1 too.
const _PROTOCOL = "HTTP/1.1";
const _MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function _pad(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** `[26/Nov/2026:05:02:37 +0000]`, Gunicorn's (and Apache's) `%(t)s`, local time. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const abs = Math.abs(off);
  return `[${_pad(d.getDate())}/${_MONTHS[d.getMonth()]}/${d.getFullYear()}:${_pad(d.getHours())}:` +
    `${_pad(d.getMinutes())}:${_pad(d.getSeconds())} ${off >= 0 ? "+" : "-"}${_pad(Math.floor(abs / 60))}${
      _pad(abs % 60)
    }]`;
}

let _clfSecond = -1;
let _clfText = "";
/** {@link clfTime}, formatted at most once a second. */
function _cachedClfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== _clfSecond) {
    _clfSecond = second;
    _clfText = clfTime(ms);
  }
  return _clfText;
}

/** The request target as sent: path and query of `request.url`. */
export function requestTarget(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? "/" : url.slice(start);
}

function _path(r: AccessRecord): string {
  const target = requestTarget(r.request.url);
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

function _query(r: AccessRecord): string {
  const target = requestTarget(r.request.url);
  const q = target.indexOf("?");
  return q < 0 ? "" : target.slice(q + 1);
}

/** The user name of Basic authentication, as Gunicorn's `%(u)s` shows it. */
export function basicUser(authorization: string | null): string | null {
  if (authorization === null || !/^basic /i.test(authorization)) return null;
  try {
    const decoded = atob(authorization.slice(6).trim());
    const colon = decoded.indexOf(":");
    return colon < 0 ? null : decoded.slice(0, colon);
  } catch {
    return null;
  }
}

function _length(r: AccessRecord): string {
  // The runtime computes the length of a body it was not told the length of
  // only as it sends it, and does not say; counting it here would mean
  // streaming every body through corral (measured: -25 to -45% req/s).
  return r.response.headers.get("content-length") ?? "-";
}

function _host(remote: RemoteAddr): string {
  return remote.transport === "tcp" ? remote.hostname : "-";
}

function _header(value: string | null): string {
  return value ?? "-";
}

const _ATOMS: Record<string, _Atom> = {
  h: (r) => _host(r.info.remoteAddr),
  l: () => "-",
  u: (r) => basicUser(r.request.headers.get("authorization")) ?? "-",
  t: (r) => _cachedClfTime(r.time),
  r: (r) => `${r.request.method} ${requestTarget(r.request.url)} ${_PROTOCOL}`,
  m: (r) => r.request.method,
  U: _path,
  q: _query,
  H: () => _PROTOCOL,
  s: (r) => String(r.response.status),
  B: _length,
  b: _length,
  f: (r) => _header(r.request.headers.get("referer")),
  a: (r) => _header(r.request.headers.get("user-agent")),
  T: (r) => String(Math.floor(r.ms / 1000)),
  M: (r) => String(Math.floor(r.ms)),
  D: (r) => String(Math.round(r.ms * 1000)),
  L: (r) => (r.ms / 1000).toFixed(6),
  p: () => `<${process.pid}>`,
};

const _TIMED = ["T", "M", "D", "L"];

/** The atoms a format may use, for messages and docs. */
export const ACCESS_LOG_ATOMS: readonly string[] = [...Object.keys(_ATOMS), "{header}i", "{header}o"];

function _atom(name: string): _Atom {
  const known = _ATOMS[name];
  if (known) return known;
  const header = /^\{([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\}([io])$/.exec(name);
  if (header) {
    const field = (header[1] as string).toLowerCase();
    return header[2] === "i"
      ? (r) => _header(r.request.headers.get(field))
      : (r) => _header(r.response.headers.get(field));
  }
  throw new TypeError(`unknown atom %(${name})s (known: ${ACCESS_LOG_ATOMS.join(" ")})`);
}

function _jsonLine(): (r: AccessRecord) => string {
  const pid = process.pid;
  return (r) => {
    const target = requestTarget(r.request.url);
    const q = target.indexOf("?");
    const length = r.response.headers.get("content-length");
    return JSON.stringify({
      time: new Date(r.time).toISOString(),
      remote_addr: r.info.remoteAddr.transport === "tcp"
        ? (r.info.remoteAddr as { hostname: string }).hostname
        : null,
      user: basicUser(r.request.headers.get("authorization")),
      method: r.request.method,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? "" : target.slice(q + 1),
      protocol: _PROTOCOL,
      status: r.response.status,
      bytes: length === null ? null : Number(length),
      duration_ms: Math.round(r.ms * 1000) / 1000,
      referer: r.request.headers.get("referer"),
      user_agent: r.request.headers.get("user-agent"),
      pid,
    });
  };
}

/**
 * Compiles an access log format once.
 *
 * @example
 * ```ts
 * const format = compileAccessFormat('%(h)s "%(r)s" %(s)s %(M)sms');
 * ```
 * @throws {TypeError} for an unknown atom.
 */
export function compileAccessFormat(format: string): AccessFormat {
  if (format === "json") return { line: _jsonLine(), timed: true };
  const parts: (string | _Atom)[] = [];
  let literal = "";
  let last = 0;
  let timed = false;
  for (const m of format.matchAll(/%\(([^)]*)\)[sd]|%%/g)) {
    literal += format.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "%%") {
      literal += "%";
      continue;
    }
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(_atom(m[1] as string));
    timed ||= _TIMED.includes(m[1] as string);
  }
  literal += format.slice(last);
  if (literal !== "") parts.push(literal);
  const line = (r: AccessRecord) => {
    let out = "";
    for (const part of parts) out += typeof part === "string" ? part : part(r);
    return out;
  };
  return { line, timed };
}
