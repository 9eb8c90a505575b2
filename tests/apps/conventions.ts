/**
 * An app written to its runtime's own conventions: it reads the second
 * argument as its runtime's server passes it (Bun's Server, Deno's
 * ServeHandlerInfo), exports Bun.serve keys (`routes`, `error`) and a `port`
 * that corral owns. /url shows `request.url` after parsing it.
 */
interface BunServer {
  requestIP(request: Request): { address: string; port: number; family: string } | null;
  upgrade(request: Request): boolean;
  publish(topic: string, data: string): number;
  timeout(request: Request, seconds: number): void;
  reload(options: object): void;
  readonly port: number;
  readonly pendingRequests: number;
  readonly remoteAddr: unknown;
}

type Info = BunServer & { completed?: Promise<void> };

function server(request: Request, info: Info): Response {
  if (!("Bun" in globalThis)) {
    return Response.json({ remoteAddr: info.remoteAddr, completed: info.completed instanceof Promise });
  }
  return Response.json({
    remoteAddr: info.remoteAddr,
    requestIP: info.requestIP(request),
    port: info.port,
    pendingRequests: info.pendingRequests,
    methods: [info.upgrade, info.publish, info.timeout].map((m) => typeof m),
  });
}

export default {
  port: 3000,
  fetch(request: Request, info: Info): Response {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/url":
        return new Response(`${request.url} ${url.host} ${url.pathname}${url.search}`);
      case "/server":
        return server(request, info);
      case "/throw":
        throw new Error("boom from the app");
      case "/reload":
        info.reload({});
        return new Response("reloaded");
      default:
        return new Response(`fetch ${url.pathname}`);
    }
  },
  routes: {
    "/route/:id": (request: Request & { params: Record<string, string> }, info: Info) =>
      Response.json({ id: request.params.id, ip: info.requestIP(request)?.address }),
    "/static": new Response("a static route"),
    "/methods": { POST: () => new Response("posted") },
  },
  error(error: Error): Response {
    return new Response(`app error: ${error.message}`, { status: 418 });
  },
};
