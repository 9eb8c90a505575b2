/**
 * Proxy headers, with Gunicorn's `--forwarded-allow-ips` meaning: from a
 * trusted peer, `Forwarded` (RFC 7239), else `X-Forwarded-For`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host`, set `info.remoteAddr` and the
 * scheme and host of `request.url`; from anyone else they reach the app
 * untouched and are never used.
 * @module
 */
import type { Handler, RemoteAddr, ServeInfo } from "../runtime/types.ts";
import { type AllowIps, ipBytes } from "./allow_ips.ts";
import { requestTarget } from "./access_format.ts";

/** What one proxy hop says about the request it passed on. */
export interface Hop {
  /** The address the hop took the request from: `1.2.3.4`, `2001:db8::1`. */
  readonly for?: string;
  readonly port?: number;
  readonly proto?: string;
  readonly host?: string;
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
  return header === null ? [] : header.split(",").map((v) => v.trim()).filter((v) => v !== "");
}

/** The X-Forwarded-* headers as hops, aligned the way proxies append them. */
export function xForwardedHops(xff: string | null, xfp: string | null, xfh: string | null): Hop[] {
  const fors = _list(xff);
  const protos = _list(xfp);
  const hosts = _list(xfh);
  // Each proxy appends its peer to X-Forwarded-For; a proto or host list of
  // the same length lines up with it, a single value is the edge's.
  const at = (list: string[], i: number, n: number) => list.length === n ? list[i] : list[list.length - 1];
  if (fors.length === 0) {
    const proto = at(protos, 0, 1);
    const host = at(hosts, 0, 1);
    return [{ ...(proto ? { proto: proto.toLowerCase() } : {}), ...(host ? { host } : {}) }];
  }
  return fors.map((node, i) => {
    const { address, port } = splitNode(node);
    const proto = at(protos, i, fors.length);
    const host = at(hosts, i, fors.length);
    return {
      for: address,
      ...(port !== undefined ? { port } : {}),
      ...(proto ? { proto: proto.toLowerCase() } : {}),
      ...(host ? { host } : {}),
    };
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
export function resolveForwarded(headers: Headers, allow: AllowIps): Forwarded {
  const forwarded = headers.get("forwarded");
  const hops = forwarded !== null ? parseForwarded(forwarded) : xForwardedHops(
    headers.get("x-forwarded-for"),
    headers.get("x-forwarded-proto"),
    headers.get("x-forwarded-host"),
  );
  const hop = clientHop(hops, allow) ?? {};
  const ip = hop.for !== undefined && ipBytes(hop.for) !== null ? hop.for : null;
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
  if (next === url) return request;
  return new Request(next, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
    duplex: "half",
  } as RequestInit);
}

function _infoWith(info: ServeInfo, remoteAddr: RemoteAddr): ServeInfo {
  // The runtime's info may carry more than remoteAddr (Deno's `completed`).
  return Object.create(info, { remoteAddr: { value: remoteAddr, enumerable: true } });
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
export function applyForwarded(request: Request, info: ServeInfo, allow: AllowIps): Seen {
  const peer = info.remoteAddr;
  // Gunicorn: a unix socket peer has no address to check and is trusted.
  if (peer.transport === "tcp" && !allow.allows(peer.hostname)) return { request, info };
  const fwd = resolveForwarded(request.headers, allow);
  return { request: _rewrite(request, fwd), info: fwd.client ? _infoWith(info, fwd.client) : info };
}

/** The proxy headers corral reads, lower case. */
export const PROXY_HEADERS: readonly string[] = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
];

/** Whether any of {@link PROXY_HEADERS} is present. */
export function hasProxyHeaders(h: Headers): boolean {
  return PROXY_HEADERS.some((name) => h.get(name) !== null);
}

/** Applies trusted proxy headers before `next` sees the request. */
export function withProxyHeaders(next: Handler, allow: AllowIps): Handler {
  return (request, info) => {
    if (!hasProxyHeaders(request.headers)) return next(request, info);
    const seen = applyForwarded(request, info, allow);
    return next(seen.request, seen.info);
  };
}
