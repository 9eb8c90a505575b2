/** The itty-router sample app of the framework suite: itty passes the server's second argument on to each route. */
import { AutoRouter, type IRequest } from "itty-router";
import { aborted, count, download, endless, events, IS_BUN } from "./_shared.ts";

interface BunSocket {
  send(message: string): void;
}

interface Second {
  /** Deno's ServeHandlerInfo. */
  remoteAddr?: { hostname: string };
  /** Bun's Server. */
  requestIP?(request: Request): { address: string } | null;
  upgrade?(request: Request): boolean;
}

function clientOf(request: IRequest, second: Second): string {
  return IS_BUN ? String(second.requestIP?.(request)?.address) : String(second.remoteAddr?.hostname);
}

function upgrade(request: IRequest, second: Second): Response | undefined {
  if (IS_BUN) return second.upgrade?.(request) ? undefined : new Response("no upgrade", { status: 400 });
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(`itty: ${event.data}`);
  return response;
}

const router = AutoRouter();
router
  .get("/hello/:name", ({ params }) => new Response(`hello ${params.name}`))
  .get("/where/:id", (request) => ({
    url: request.url,
    id: request.params.id,
    q: request.query.q,
    clone: request.clone().url,
  }))
  .get("/json", () => ({ framework: "itty", list: [1, 2] }))
  .post("/echo", async (request) => ({ got: await request.json() }))
  .get("/cookie", () => new Response("set", { headers: { "set-cookie": "sid=abc; Path=/; HttpOnly" } }))
  .get("/cookie/read", (request) => {
    const sid = /(?:^|;\s*)sid=([^;]*)/.exec(request.headers.get("cookie") ?? "")?.[1];
    return new Response(`sid=${sid}`);
  })
  .get("/redirect", () => Response.redirect("http://127.0.0.1/hello/redirected", 302))
  .get("/etag", (request) => {
    const tag = '"tagged-1"';
    if (request.headers.get("if-none-match") === tag) return new Response(null, { status: 304 });
    return new Response("tagged body", { headers: { etag: tag } });
  })
  .get("/sse", () => new Response(events(), { headers: { "content-type": "text/event-stream" } }))
  .get("/abort", (request) => new Response(endless(request.signal)))
  .get("/aborted", () => new Response(String(aborted.count)))
  .post("/upload", async (request) => new Response(String(await count(request.body))))
  .get("/download", (request) => new Response(download(Number(request.query.mb))))
  .get("/ip", (request, second: Second) => new Response(clientOf(request, second)))
  .get("/ws", (request, second: Second) => upgrade(request, second));

export default {
  fetch: router.fetch,
  websocket: {
    message(ws: BunSocket, message: string) {
      ws.send(`itty: ${message}`);
    },
  },
};
