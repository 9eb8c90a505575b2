/**
 * Proxy headers, with Gunicorn's `--forwarded-allow-ips` meaning: from a
 * trusted peer, `Forwarded` (RFC 7239), else `X-Forwarded-For`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host`, set `info.remoteAddr` and the
 * scheme and host of `request.url`; from anyone else they reach the app
 * untouched and are never used.
 * @module
 */
import { FORWARDED_TO, type Handler, type RemoteAddr, type ServeInfo } from "../../runtime/types.ts";
import { type AllowIps, isIp } from "./allow_ips.ts";
import { requestTarget } from "./access_format.ts";
import { fieldValues } from "../../runtime/fields.ts";
import { withUrl } from "../../runtime/request_url.ts";

/** What one proxy hop says about the request it passed on. */
export interface Hop {
  /** The address the hop took the request from: `1.2.3.4`, `2001:db8::1`. */
  readonly for?: string;
  readonly port?: number;
  readonly proto?: string;
  readonly host?: string;
}

/** The proxy headers of one request, null where absent. */
export interface ProxyFields {
  /** RFC 7239 `Forwarded`; when present, the X-Forwarded-* fields are not used. */
  readonly forwarded: string | null;
  readonly xForwardedFor: string | null;
  readonly xForwardedProto: string | null;
  readonly xForwardedHost: string | null;
}

/** The proxy headers' names. */
const _PROXY_FIELDS = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"] as const;

/** Where {@link requestProxyFields} has the runtime put the values: read before the next request. */
const _values: (string | null)[] = [null, null, null, null];

/**
 * The proxy headers of `request`, or null when it has none; its `headers`
 * are read only when the runtime cannot tell them without (see
 * runtime/fields.ts).
 */
export function requestProxyFields(request: Request): ProxyFields | null {
  if (!fieldValues(request, _PROXY_FIELDS, _values)) return proxyFields(request.headers);
  return _fields(
    _values[0] as string | null,
    _values[1] as string | null,
    _values[2] as string | null,
    _values[3] as string | null,
  );
}

/** The proxy headers of `headers`, or null when it has none. */
export function proxyFields(headers: Headers): ProxyFields | null {
  return _fields(
    headers.get("forwarded"),
    headers.get("x-forwarded-for"),
    headers.get("x-forwarded-proto"),
    headers.get("x-forwarded-host"),
  );
}

function _fields(
  forwarded: string | null,
  xForwardedFor: string | null,
  xForwardedProto: string | null,
  xForwardedHost: string | null,
): ProxyFields | null {
  if (forwarded === null && xForwardedFor === null && xForwardedProto === null && xForwardedHost === null) {
    return null;
  }
  return { forwarded, xForwardedFor, xForwardedProto, xForwardedHost };
}

/** What the trusted headers resolve to: the client, and how it called. */
export interface Forwarded {
  readonly client: RemoteAddr | null;
  readonly proto: string | null;
  readonly host: string | null;
}

function _unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

/** Splits a node (`192.0.2.1:80`, `[2001:db8::1]:443`, `unknown`) into address and port. */
export function splitNode(node: string): { address: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(node);
  if (v6) return v6[2] ? { address: v6[1] as string, port: Number(v6[2]) } : { address: v6[1] as string };
  const v4 = /^([^:]+):(\d{1,5})$/.exec(node);
  if (v4) return { address: v4[1] as string, port: Number(v4[2]) };
  return { address: node };
}

/** Parses an RFC 7239 `Forwarded` header into hops, nearest the client first. */
export function parseForwarded(header: string): Hop[] {
  return header.split(",").map((element) => {
    const hop: { for?: string; port?: number; proto?: string; host?: string } = {};
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const key = pair.slice(0, eq).trim().toLowerCase();
      const value = _unquote(pair.slice(eq + 1));
      if (key === "for") {
        const node = splitNode(value);
        hop.for = node.address;
        if (node.port !== undefined) hop.port = node.port;
      } else if (key === "proto") hop.proto = value.toLowerCase();
      else if (key === "host") hop.host = value;
    }
    return hop;
  });
}

function _list(header: string | null): string[] {
  if (header === null) return [];
  // One value, the common case (one proxy): no array of pieces to split, trim and filter.
  if (!header.includes(",")) {
    const value = header.trim();
    return value === "" ? [] : [value];
  }
  return header.split(",").map((v) => v.trim()).filter((v) => v !== "");
}

/** A hop with only the keys that have a value; made without spread objects (on a hot path). */
function _hop(
  address: string | undefined,
  port: number | undefined,
  proto: string | undefined,
  host: string | undefined,
): Hop {
  const hop: { for?: string; port?: number; proto?: string; host?: string } = {};
  if (address !== undefined) hop.for = address;
  if (port !== undefined) hop.port = port;
  if (proto) hop.proto = proto.toLowerCase();
  if (host) hop.host = host;
  return hop;
}

/** The X-Forwarded-* headers as hops, aligned the way proxies append them. */
export function xForwardedHops(fields: ProxyFields): Hop[] {
  const fors = _list(fields.xForwardedFor);
  const protos = _list(fields.xForwardedProto);
  const hosts = _list(fields.xForwardedHost);
  // Each proxy appends its peer to X-Forwarded-For; a proto or host list of
  // the same length lines up with it, a single value is the edge's.
  const at = (list: string[], i: number, n: number) => list.length === n ? list[i] : list[list.length - 1];
  if (fors.length === 0) return [_hop(undefined, undefined, at(protos, 0, 1), at(hosts, 0, 1))];
  return fors.map((node, i) => {
    const { address, port } = splitNode(node);
    return _hop(address, port, at(protos, i, fors.length), at(hosts, i, fors.length));
  });
}

/**
 * Picks the client's hop: walking from the nearest proxy outwards, the
 * first address that is not a trusted proxy (so a client cannot pose as
 * anyone by sending its own X-Forwarded-For); the farthest if all are.
 */
export function clientHop(hops: readonly Hop[], allow: AllowIps): Hop | undefined {
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as Hop;
    if (i === 0 || hop.for === undefined || !allow.allows(hop.for)) return hop;
  }
  return undefined;
}

const _HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Resolves the proxy headers of a request from a trusted peer. */
export function resolveForwarded(fields: ProxyFields, allow: AllowIps): Forwarded {
  const hops = fields.forwarded !== null ? parseForwarded(fields.forwarded) : xForwardedHops(fields);
  const hop = clientHop(hops, allow) ?? {};
  const ip = hop.for !== undefined && isIp(hop.for) ? hop.for : null;
  const proto = hop.proto === "https" || hop.proto === "wss"
    ? "https"
    : hop.proto === "http" || hop.proto === "ws"
    ? "http"
    : null;
  return {
    client: ip === null ? null : { transport: "tcp", hostname: ip, port: hop.port ?? 0 },
    proto,
    host: hop.host !== undefined && _HOST.test(hop.host) ? hop.host : null,
  };
}

function _rewrite(request: Request, fwd: Forwarded): Request {
  if (fwd.proto === null && fwd.host === null) return request;
  const url = request.url;
  const scheme = fwd.proto ?? url.slice(0, url.indexOf(":"));
  const host = fwd.host ?? url.slice(url.indexOf("//") + 2, url.indexOf("/", url.indexOf("//") + 2));
  const next = `${scheme}://${host}${requestTarget(url)}`;
  return next === url ? request : withUrl(request, next);
}

/**
 * The runtime's info with the client's address from the proxy headers.
 * A class, not `Object.create(info)`: making each request's info a
 * prototype cost 5.9 µs a request on Deno and 1.8 µs on Bun (measured),
 * as the engine turned every one into a prototype object.
 */
class _ForwardedInfo implements ServeInfo {
  readonly remoteAddr: RemoteAddr;
  readonly #info: ServeInfo;
  constructor(info: ServeInfo, remoteAddr: RemoteAddr) {
    this.#info = info;
    this.remoteAddr = remoteAddr;
  }
  /** Deno's `info.completed`, passed through (undefined on Bun). */
  get completed(): Promise<void> | undefined {
    return (this.#info as { completed?: Promise<void> }).completed;
  }
}

/** A request and its info as the app sees them. */
export interface Seen {
  readonly request: Request;
  readonly info: ServeInfo;
}

/**
 * The request and info the app sees once the proxy headers of a request
 * that has some are applied: from a trusted peer they are resolved, from
 * anyone else the request is left as it is.
 */
export function applyForwarded(
  request: Request,
  info: ServeInfo,
  allow: AllowIps,
  fields: ProxyFields,
): Seen {
  // With `*` the peer is not asked for (on Bun, asking costs a system call).
  // Gunicorn: a unix socket peer has no address to check and is trusted.
  if (!allow.any) {
    const peer = info.remoteAddr;
    if (peer.transport === "tcp" && !allow.allows(peer.hostname)) return { request, info };
  }
  const fwd = resolveForwarded(fields, allow);
  return { request: _rewrite(request, fwd), info: fwd.client ? _forwardedInfo(info, fwd.client) : info };
}

/**
 * The info with `client` as the client: Bun's takes it in place (it is the
 * server as well, whose `requestIP()` must say it too); Deno's is wrapped.
 */
function _forwardedInfo(info: ServeInfo, client: RemoteAddr): ServeInfo {
  const forward = info[FORWARDED_TO];
  return forward === undefined ? new _ForwardedInfo(info, client) : forward.call(info, client);
}

/** Applies trusted proxy headers before `next` sees the request. */
export function withProxyHeaders(next: Handler, allow: AllowIps): Handler {
  return (request, info) => {
    const fields = requestProxyFields(request);
    if (fields === null) return next(request, info);
    const seen = applyForwarded(request, info, allow, fields);
    return next(seen.request, seen.info);
  };
}
