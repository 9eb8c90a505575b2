/**
 * Access log formats: Gunicorn's `%(atom)s` strings, or `json`, compiled
 * once into a function from one request to one line.
 * @module
 */
import { responseLength } from "../../runtime/response_length.ts";
import { sys } from "../../runtime/sys.ts";
import type { RemoteAddr, ServeInfo } from "../../runtime/types.ts";
import { asciiJson, escapeLogValue } from "./log_escape.ts";
import { LineBytes } from "./line_bytes.ts";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

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
  /** One record in, one line (without the newline) out: what {@link write} writes, as a string (json's as it is). */
  readonly line: (record: AccessRecord) => string;
  /** Writes the line of `record` into `out` as the file gets it (UTF-8; json's made ASCII), without the newline. */
  readonly write: (record: AccessRecord, out: LineBytes) => void;
  /** Whether the line shows the request's duration, so it must be measured. */
  readonly timed: boolean;
  /** Whether the line shows the client's address. */
  readonly peer: boolean;
  /** The request header fields the line shows, lower-case. */
  readonly fields: readonly string[];
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
let _clfBytes = new Uint8Array(0);
/** {@link clfTime}'s bytes, formatted at most once a second. */
function _cachedClfBytes(ms: number): Uint8Array {
  const second = Math.floor(ms / 1000);
  if (second !== _clfSecond) {
    _clfSecond = second;
    _clfBytes = _encoder.encode(clfTime(ms));
  }
  return _clfBytes;
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

/** The client's address, or null (a unix socket): an address the runtime or a parsed proxy header gave. */
function _hostname(r: AccessRecord): string | null {
  const remote: RemoteAddr = r.remoteAddr ?? r.info.remoteAddr;
  return remote.transport === "tcp" ? remote.hostname : null;
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

/** What the compiled lines call; `H` in {@link _ATOMS}. */
const _HELPERS = {
  hostname: _hostname,
  user: (r: AccessRecord) => {
    const authorization = _authorization(r);
    return authorization === null ? "-" : _field(basicUser(authorization));
  },
  clfBytes: _cachedClfBytes,
  target: requestTarget,
  path: _path,
  query: _query,
  // The runtime computes the length of a body it was not told the length of
  // only as it sends it, and does not say; counting it here would mean
  // streaming every body through corral (measured: -25 to -45% req/s).
  // Asked without the response's headers where the runtime can tell (runtime/response_length.ts).
  length: (r: AccessRecord) => responseLength(r.response),
  referer: _referer,
  userAgent: _userAgent,
  requestField: _requestField,
};

/**
 * One piece of a line: a JavaScript expression of the record `r` and the
 * helpers `H`, and how its value is written: `value`, a string a client
 * (or the app) controls, escaped ({@link escapeLogValue}) so that no request
 * can write two lines or end a quoted field; `field`, the same or null,
 * written `-`; `text`, corral's own ASCII (numbers, or what a helper
 * escaped already); `time`, `%(t)s`, formatted once a second; a string, the
 * text itself.
 */
type _Piece = readonly ["value" | "field" | "text", string] | readonly ["time"] | string;

/**
 * Each atom as its pieces. A format is compiled into one function that
 * writes them as bytes into the access log's buffer (line_bytes.ts): about
 * three times faster than calling a function per atom.
 */
const _ATOMS: Record<string, readonly _Piece[]> = {
  h: [["field", "H.hostname(r)"]],
  l: ["-"],
  u: [["text", "H.user(r)"]],
  t: [["time"]],
  r: [["value", "r.request.method"], " ", ["value", "H.target(r.request.url)"], ` ${_PROTOCOL}`],
  m: [["value", "r.request.method"]],
  U: [["value", "H.path(r)"]],
  q: [["value", "H.query(r)"]],
  H: [_PROTOCOL],
  s: [["text", '"" + r.response.status']],
  B: [["field", "H.length(r)"]],
  b: [["field", "H.length(r)"]],
  f: [["field", "H.referer(r)"]],
  a: [["field", "H.userAgent(r)"]],
  T: [["text", '"" + Math.floor(r.ms / 1000)']],
  M: [["text", '"" + Math.floor(r.ms)']],
  D: [["text", '"" + Math.round(r.ms * 1000)']],
  L: [["text", "(r.ms / 1000).toFixed(6)"]],
  // The pid is the worker's, which compiles its own format.
  p: [["text", "P"]],
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
  ...Object.keys(_ATOMS),
  "{header}i",
  "{header}o",
];

function _pieces(name: string): readonly _Piece[] {
  // Own keys only: `%(constructor)s` is not an atom.
  if (Object.hasOwn(_ATOMS, name)) return _ATOMS[name] as readonly _Piece[];
  // A token (RFC 9110), so the name is safe inside a string literal.
  const header = /^\{([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\}([io])$/.exec(name);
  if (header) {
    const field = JSON.stringify((header[1] as string).toLowerCase());
    return [[
      "field",
      header[2] === "i" ? `H.requestField(r, ${field})` : `r.response.headers.get(${field})`,
    ]];
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

/** A line as a string: what `write` writes, decoded. */
function _lineOf(write: AccessFormat["write"]): AccessFormat["line"] {
  return (r) => {
    const out = new LineBytes(256);
    write(r, out);
    return _decoder.decode(out.take());
  };
}

/** A piece (not a string) as the byte writer's statement. */
function _asWrite([kind, expression]: Exclude<_Piece, string>): string {
  if (kind === "time") return "O.raw(H.clfBytes(r.time));";
  return `O.${kind === "text" ? "ascii" : kind}(${expression});`;
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
  // line is one line; asciiJson makes a line that is not ASCII so.
  if (format === "json") {
    const line = _jsonLine();
    const write = (r: AccessRecord, out: LineBytes) => out.ascii(line(r), asciiJson);
    return { line, write, timed: true, peer: true, fields: Object.values(_FIELDS) };
  }
  // The literals, and the atoms' pieces (_ATOMS), in order; text next to text is one literal.
  const pieces: _Piece[] = [];
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
    for (const piece of _pieces(m[1] as string)) {
      if (typeof piece === "string") literal += piece;
      else {
        if (literal !== "") pieces.push(literal);
        literal = "";
        pieces.push(piece);
      }
    }
    timed ||= _TIMED.includes(m[1] as string);
    peer ||= m[1] === "h";
    const field = _fieldOf(m[1] as string);
    if (field !== undefined) fields.add(field);
  }
  literal += format.slice(last);
  if (literal !== "") pieces.push(literal);
  // The literals encoded once (L).
  const literals = pieces.filter((p) => typeof p === "string").map((p) => _encoder.encode(p));
  let k = 0;
  const statements = pieces.map((p) => typeof p === "string" ? `O.raw(L[${k++}]);` : _asWrite(p));
  const write = new Function("H", "P", "L", `return (r, O) => { ${statements.join(" ")} };`)(
    _HELPERS,
    `<${sys.pid}>`,
    literals,
  ) as AccessFormat["write"];
  return { line: _lineOf(write), write, timed, peer, fields: [...fields] };
}
