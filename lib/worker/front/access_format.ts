/**
 * Access log formats: Gunicorn's `%(atom)s` strings, or `json`, compiled
 * once into a function from one request to one line.
 * @module
 */
import { responseLength } from "../../runtime/response_length.ts";
import { sys } from "../../runtime/sys.ts";
import type { RemoteAddr, ServeInfo } from "../../runtime/types.ts";
import { asciiJson, escapeLogValue } from "./log_escape.ts";

/** Gunicorn's default access log format (the Common Log Format plus referer and user agent). */
export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** What one access log line is made of. */
export interface AccessRecord {
  readonly request: Request;
  /** The client as the app saw it in `info.remoteAddr` (after trusted proxy headers). */
  readonly info: ServeInfo;
  /** `info.remoteAddr`, read before the app ran where the format shows it: Deno's upgrade closes it. */
  readonly remoteAddr?: RemoteAddr | undefined;
  readonly response: Response;
  /** Milliseconds from the request reaching corral to the response being ready. */
  readonly ms: number;
  /** When the response was ready, in milliseconds since the epoch. */
  readonly time: number;
  /**
   * Request fields already read by the front's walk over the headers
   * (undefined: not read, ask the request).
   */
  readonly authorization?: string | null | undefined;
  readonly referer?: string | null | undefined;
  readonly userAgent?: string | null | undefined;
  /**
   * The request fields the format shows ({@link AccessFormat.fields}), by
   * lower-case name, read before the app ran: once a Deno request is
   * upgraded to a WebSocket its headers can no longer be read.
   */
  readonly fields?: Readonly<Record<string, string | null>> | undefined;
}

/** A compiled format. */
export interface AccessFormat {
  /** One record in, one line (without the newline) out. */
  readonly line: (record: AccessRecord) => string;
  /** Whether the line shows the request's duration, so it must be measured. */
  readonly timed: boolean;
  /** Whether the line shows the client's address. */
  readonly peer: boolean;
  /** The request header fields the line shows, lower-case. */
  readonly fields: readonly string[];
  /**
   * Makes a batch of lines that is not all ASCII into one that is, where
   * the format needs it (json); the text format escapes as it goes.
   */
  readonly toAscii?: (text: string) => string;
}

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

/**
 * The user name of Basic authentication, as Gunicorn's `%(u)s` shows it:
 * the bytes before the first `:` of the decoded credentials, one character
 * a byte (`atob`'s binary string), whatever they are; the log escapes them.
 */
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

/** A client's (or the app's) value as the line shows it: escaped, or `-` when absent. */
function _field(value: string | null): string {
  return value === null ? "-" : escapeLogValue(value);
}

function _length(r: AccessRecord): string {
  // The runtime computes the length of a body it was not told the length of
  // only as it sends it, and does not say; counting it here would mean
  // streaming every body through corral (measured: -25 to -45% req/s).
  // Asked without the response's headers where the runtime can tell (runtime/response_length.ts).
  return _field(responseLength(r.response));
}

function _host(remote: RemoteAddr): string {
  // An address the runtime or a parsed proxy header gave; escaped all the same.
  return remote.transport === "tcp" ? escapeLogValue(remote.hostname) : "-";
}

/** A request field, from what was read before the app ran if it was. */
function _requestField(r: AccessRecord, name: string): string | null {
  const value = r.fields?.[name];
  return value !== undefined ? value : r.request.headers.get(name);
}

function _authorization(r: AccessRecord): string | null {
  return r.authorization !== undefined ? r.authorization : _requestField(r, "authorization");
}

function _referer(r: AccessRecord): string | null {
  return r.referer !== undefined ? r.referer : _requestField(r, "referer");
}

function _userAgent(r: AccessRecord): string | null {
  return r.userAgent !== undefined ? r.userAgent : _requestField(r, "user-agent");
}

/** What the compiled lines call; `H` in {@link _EXPRESSIONS}. Each escapes what it returns. */
const _HELPERS = {
  host: (r: AccessRecord) => _host(r.remoteAddr ?? r.info.remoteAddr),
  user: (r: AccessRecord) => {
    const authorization = _authorization(r);
    return authorization === null ? "-" : _field(basicUser(authorization));
  },
  clf: _cachedClfTime,
  target: requestTarget,
  path: _path,
  query: _query,
  length: _length,
  referer: (r: AccessRecord) => _field(_referer(r)),
  userAgent: (r: AccessRecord) => _field(_userAgent(r)),
  header: _field,
  requestHeader: (r: AccessRecord, name: string) => _field(_requestField(r, name)),
};

/**
 * Each atom as a JavaScript expression of the record `r`, the helpers `H`
 * and the escaping `E`. A format is compiled into one function that
 * concatenates them: about three times faster than calling a function per
 * atom. Every value a client (or the app) controls is escaped
 * ({@link escapeLogValue}), here by `E` or by its helper, so that no
 * request can write two lines or end a quoted field; the others are
 * numbers, the time and constants. An absent value is `-`, not tested.
 */
const _EXPRESSIONS: Record<string, string> = {
  h: "H.host(r)",
  l: '"-"',
  u: "H.user(r)",
  t: "H.clf(r.time)",
  r: `E(r.request.method) + " " + E(H.target(r.request.url)) + " ${_PROTOCOL}"`,
  m: "E(r.request.method)",
  U: "E(H.path(r))",
  q: "E(H.query(r))",
  H: `"${_PROTOCOL}"`,
  s: '"" + r.response.status',
  B: "H.length(r)",
  b: "H.length(r)",
  f: "H.referer(r)",
  a: "H.userAgent(r)",
  T: '"" + Math.floor(r.ms / 1000)',
  M: '"" + Math.floor(r.ms)',
  D: '"" + Math.round(r.ms * 1000)',
  L: "(r.ms / 1000).toFixed(6)",
  // The pid is the worker's, which compiles its own format.
  p: "P",
};

const _TIMED = ["T", "M", "D", "L"];

/** The request field each atom that shows one reads. */
const _FIELDS: Readonly<Record<string, string>> = { u: "authorization", f: "referer", a: "user-agent" };

/** The request field a `%(name)s` atom shows, if it shows one. */
function _fieldOf(name: string): string | undefined {
  if (Object.hasOwn(_FIELDS, name)) return _FIELDS[name];
  return /^\{(.+)\}i$/.exec(name)?.[1]?.toLowerCase();
}

/** The atoms a format may use, for messages and docs. */
export const ACCESS_LOG_ATOMS: readonly string[] = [
  ...Object.keys(_EXPRESSIONS),
  "{header}i",
  "{header}o",
];

function _expression(name: string): string {
  // Own keys only: `%(constructor)s` is not an atom.
  if (Object.hasOwn(_EXPRESSIONS, name)) return _EXPRESSIONS[name] as string;
  // A token (RFC 9110), so the name is safe inside a string literal.
  const header = /^\{([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\}([io])$/.exec(name);
  if (header) {
    const field = JSON.stringify((header[1] as string).toLowerCase());
    return header[2] === "i" ? `H.requestHeader(r, ${field})` : `H.header(r.response.headers.get(${field}))`;
  }
  throw new TypeError(`unknown atom %(${name})s (known: ${ACCESS_LOG_ATOMS.join(" ")})`);
}

function _jsonLine(): (r: AccessRecord) => string {
  const pid = sys.pid;
  return (r) => {
    const target = requestTarget(r.request.url);
    const q = target.indexOf("?");
    const length = responseLength(r.response);
    const remote = r.remoteAddr ?? r.info.remoteAddr;
    return JSON.stringify({
      time: new Date(r.time).toISOString(),
      remote_addr: remote.transport === "tcp" ? remote.hostname : null,
      user: basicUser(_authorization(r)),
      method: r.request.method,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? "" : target.slice(q + 1),
      protocol: _PROTOCOL,
      status: r.response.status,
      bytes: length === null ? null : Number(length),
      duration_ms: Math.round(r.ms * 1000) / 1000,
      referer: _referer(r),
      user_agent: _userAgent(r),
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
  // JSON.stringify escapes quotes, backslashes and the C0 controls, so a
  // line is one line; the access log makes each batch ASCII (asciiJson) as
  // it encodes it, which costs nothing when it is already.
  if (format === "json") {
    const fields = Object.values(_FIELDS);
    return { line: _jsonLine(), timed: true, peer: true, fields, toAscii: asciiJson };
  }
  // JavaScript expressions: literals quoted by JSON.stringify, atoms from _EXPRESSIONS.
  const parts: string[] = [];
  let literal = "";
  let last = 0;
  let timed = false;
  let peer = false;
  const fields = new Set<string>();
  for (const m of format.matchAll(/%\(([^)]*)\)[sd]|%%/g)) {
    literal += format.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "%%") {
      literal += "%";
      continue;
    }
    if (literal !== "") parts.push(JSON.stringify(literal));
    literal = "";
    parts.push(_expression(m[1] as string));
    timed ||= _TIMED.includes(m[1] as string);
    peer ||= m[1] === "h";
    const field = _fieldOf(m[1] as string);
    if (field !== undefined) fields.add(field);
  }
  literal += format.slice(last);
  if (literal !== "") parts.push(JSON.stringify(literal));
  const body = `return (r) => "" + ${parts.length > 0 ? parts.join(" + ") : '""'};`;
  const line = new Function("H", "E", "P", body)(_HELPERS, escapeLogValue, `<${sys.pid}>`) as (
    r: AccessRecord,
  ) => string;
  return { line, timed, peer, fields: [...fields] };
}
