/**
 * The Elysia sample app of the framework suite, exported as Elysia's docs
 * say for a fetch-handler host. Elysia's `server` (for `requestIP` and its
 * `ws()`) is set only by its own `listen()`.
 */
import { Elysia } from "elysia";
import { aborted, count, download, endless, events } from "./_shared.ts";

const app = new Elysia()
  .get("/hello/:name", ({ params }) => `hello ${params.name}`)
  .get("/where/:id", ({ request, params, query }) => ({
    url: request.url,
    id: params.id,
    q: query.q,
    clone: request.clone().url,
  }))
  .get("/json", () => ({ framework: "elysia", list: [1, 2] }))
  .post("/echo", ({ body }) => ({ got: body }))
  .get("/cookie", ({ cookie: { sid } }) => {
    sid!.set({ value: "abc", path: "/", httpOnly: true });
    return "set";
  })
  .get("/cookie/read", ({ cookie: { sid } }) => `sid=${sid!.value}`)
  .get("/redirect", ({ redirect }) => redirect("/hello/redirected", 302))
  .get("/etag", ({ request, set }) => {
    const tag = '"tagged-1"';
    set.headers.etag = tag;
    if (request.headers.get("if-none-match") === tag) {
      set.status = 304;
      return "";
    }
    return "tagged body";
  })
  .get("/sse", () => new Response(events(), { headers: { "content-type": "text/event-stream" } }))
  .get("/abort", ({ request }) => new Response(endless(request.signal)))
  .get("/aborted", () => String(aborted.count))
  .post("/upload", async ({ request }) => String(await count(request.body)), { parse: "none" })
  .get("/download", ({ query }) => new Response(download(Number(query.mb))))
  .get("/ip", ({ server, request }) => String(server?.requestIP(request)?.address))
  .ws("/ws", {
    message(ws, message) {
      ws.send(`elysia: ${message}`);
    },
  });

export default app;
