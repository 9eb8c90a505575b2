/// <reference path="./_bun.d.ts" />
/**
 * What a Bun app gets from corral's Bun.serve: Bun's own Server as its
 * second argument (with `remoteAddr` added), the export's own Bun.serve keys
 * (`websocket`, `routes`, ...), and an absolute `request.url` always.
 * @module
 */
import { markUpgraded } from "./_watcher.ts";
import { SocketRegistry } from "./_websockets.ts";
import { withUrl } from "./request_url.ts";
import { FORWARDED_TO, type Handler, type RemoteAddr, type ServeInfo, UPGRADED } from "./types.ts";

type BunServer = Bun.Server;

/** The info a Bun app gets: Bun's Server, with corral's `remoteAddr`. */
export type BunInfo = ServeInfo & BunServer;

/** Makes the info of one request. */
export type BunInfoClass = new (request: Request) => BunInfo;

function _peer(server: BunServer, request: Request): RemoteAddr {
  const ip = server.requestIP(request);
  return ip ? { transport: "tcp", hostname: ip.address, port: ip.port } : { transport: "unix", path: "" };
}

/**
 * Bun's Server seen through an object of corral's: each method bound to the
 * server and each getter reading it (Bun's check their receiver), except
 * `reload()`, which would take corral's handler away.
 */
function _serverView(server: BunServer): object {
  const view = Object.create(server);
  for (let p = Object.getPrototypeOf(server); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const key of Reflect.ownKeys(p)) {
      if (key === "constructor" || Object.hasOwn(view, key)) continue;
      const d = Object.getOwnPropertyDescriptor(p, key) as PropertyDescriptor;
      const s = server as unknown as Record<PropertyKey, unknown>;
      if (typeof d.value === "function") {
        Object.defineProperty(view, key, { value: d.value.bind(server), writable: true, configurable: true });
      } else if (d.get) Object.defineProperty(view, key, { get: () => s[key], configurable: true });
    }
  }
  Object.defineProperty(view, "reload", {
    value: () => {
      throw new TypeError(
        "server.reload() is not available under corral: send the master HUP to reload the app",
      );
    },
    writable: true,
    configurable: true,
  });
  return view;
}

/**
 * The class of the info the app gets from `server`. Made once per server,
 * so that a request costs one small object, as corral's `{ remoteAddr }`
 * did: its prototype chain reaches the server. `remoteAddr` asks Bun for
 * the peer only when read (requestIP() costs about 1 µs), and once.
 */
export function bunInfoClass(server: BunServer): BunInfoClass {
  class Info implements ServeInfo {
    declare [UPGRADED]?: boolean;
    readonly #request: Request;
    #client: RemoteAddr | undefined;
    #forwarded = false;
    constructor(request: Request) {
      this.#request = request;
    }
    get remoteAddr(): RemoteAddr {
      return this.#client ??= _peer(server, this.#request);
    }
    /**
     * The client of `request`: for this info's own request (or one Bun does
     * not know, made from it), the client a trusted proxy named, if one did.
     */
    requestIP(request: Request): Bun.SocketAddress | null {
      if (request !== this.#request) {
        const ip = server.requestIP(request);
        if (ip !== null) return ip;
      }
      if (!this.#forwarded) return server.requestIP(this.#request);
      const client = this.remoteAddr;
      if (client.transport !== "tcp") return null;
      const family = client.hostname.includes(":") ? "IPv6" : "IPv4";
      return { address: client.hostname, port: client.port, family };
    }
    upgrade(request: Request, options?: unknown): boolean {
      // The TCP peer, read while the request is still the server's: the watcher must leave the connection be.
      const peer = server.requestIP(request) ?? server.requestIP(this.#request);
      const upgraded = server.upgrade(request, options);
      if (!upgraded) return false;
      this[UPGRADED] = true;
      if (peer) markUpgraded(peer.address, peer.port);
      return true;
    }
    [FORWARDED_TO](client: RemoteAddr): ServeInfo {
      this.#client = client;
      this.#forwarded = true;
      return this;
    }
  }
  Object.setPrototypeOf(Info.prototype, _serverView(server));
  return Info as unknown as BunInfoClass;
}

const _HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Bun gives a bare path (`/x?y=1`) as the URL of a request without a
 * usable Host (HTTP/1.0), where `new URL(request.url)` throws: the URL is
 * made absolute from the Host header, else from `origin` (the bound address).
 */
export function withAbsoluteUrl(request: Request, scheme: string, origin: string): void {
  const host = request.headers.get("host");
  const base = host !== null && _HOST.test(host) ? `${scheme}://${host}` : origin;
  withUrl(request, base + request.url);
}

/** How one server turns a handler into the callback Bun calls. */
export interface BunServing {
  /** The class of the infos; set once the server exists, before any request. */
  Info: BunInfoClass | null;
  readonly scheme: string;
  /** `scheme://bound-address`, for requests without a usable Host. */
  origin: string;
}

/** The callback Bun calls, for `handler`: one check on the URL and one object a request. */
export function bunFetch(handler: Handler, serving: BunServing): (request: Request) => ReturnType<Handler> {
  return (request) => {
    // 47 is "/": only a bare path, never an absolute URL, starts with it.
    if (request.url.charCodeAt(0) === 47) withAbsoluteUrl(request, serving.scheme, serving.origin);
    return handler(request, new (serving.Info as BunInfoClass)(request));
  };
}

function _isPlain(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The export's `routes` for Bun.serve, each handler function served
 * through `serve` (corral's per-request work around it). Static
 * `Response`s, HTML imports and `false` stay Bun's own. A value that is
 * not a plain object is not Bun routes (Hono and Elysia apps have a
 * `routes` array): as Bun.serve, it is ignored.
 */
export function bunRoutes(
  routes: unknown,
  serve: (handler: Handler) => unknown,
): Record<string, unknown> | undefined {
  if (!_isPlain(routes)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(routes)) {
    if (typeof value === "function") out[path] = serve(value as Handler);
    else if (_isPlain(value)) {
      const methods: Record<string, unknown> = {};
      for (const [method, v] of Object.entries(value)) {
        methods[method] = typeof v === "function" ? serve(v as Handler) : v;
      }
      out[path] = methods;
    } else out[path] = value;
  }
  return out;
}

/**
 * The export's `websocket` handlers, with each socket counted in `sockets`
 * from its open to its close. The app's object stays the prototype, so its
 * options and other handlers are Bun's to read as they are.
 */
export function bunWebSocket(
  handlers: unknown,
  sockets: SocketRegistry<Bun.ServerWebSocket>,
): object | undefined {
  if (handlers === null || typeof handlers !== "object") return undefined;
  const app = handlers as Bun.WebSocketHandler;
  return Object.create(app, {
    open: {
      value(ws: Bun.ServerWebSocket) {
        sockets.add(ws);
        return app.open?.(ws);
      },
    },
    close: {
      value(ws: Bun.ServerWebSocket, code: number, reason: string) {
        sockets.delete(ws);
        return app.close?.(ws, code, reason);
      },
    },
  });
}
