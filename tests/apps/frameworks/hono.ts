/** The Hono sample app of the framework suite, with Hono's own Bun or Deno adapter. */
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { etag } from "hono/etag";
import type { UpgradeWebSocket } from "hono/ws";
import type { ConnInfo } from "hono/conninfo";
import type { Context } from "hono";
import { aborted, count, download, endless, events, IS_BUN } from "./_shared.ts";

interface Adapter {
  getConnInfo(c: Context): ConnInfo;
  upgradeWebSocket: UpgradeWebSocket;
  websocket?: unknown;
}

const adapter = (IS_BUN ? await import("hono/bun") : await import("hono/deno")) as unknown as Adapter;

const app = new Hono();
app.get("/hello/:name", (c) => c.text(`hello ${c.req.param("name")}`));
// The URL as the framework sees it (behind a trusted proxy: the proxy's scheme and host).
app.get(
  "/where/:id",
  (c) => c.json({ url: c.req.url, id: c.req.param("id"), q: c.req.query("q"), clone: c.req.raw.clone().url }),
);
app.get("/json", (c) => c.json({ framework: "hono", list: [1, 2] }));
app.post("/echo", async (c) => c.json({ got: await c.req.json() }));
app.get("/cookie", (c) => {
  setCookie(c, "sid", "abc", { path: "/", httpOnly: true });
  return c.text("set");
});
app.get("/cookie/read", (c) => c.text(`sid=${getCookie(c, "sid")}`));
app.get("/redirect", (c) => c.redirect("/hello/redirected", 302));
app.use("/etag", etag());
app.get("/etag", (c) => c.text("tagged body"));
app.get("/sse", () => new Response(events(), { headers: { "content-type": "text/event-stream" } }));
app.get("/abort", (c) => new Response(endless(c.req.raw.signal)));
app.get("/aborted", (c) => c.text(String(aborted.count)));
app.post("/upload", async (c) => c.text(String(await count(c.req.raw.body))));
app.get("/download", (c) => new Response(download(Number(c.req.query("mb")))));
app.get("/ip", (c) => c.text(String(adapter.getConnInfo(c).remote.address)));
app.get(
  "/ws",
  adapter.upgradeWebSocket(() => ({
    onMessage(event, ws) {
      ws.send(`hono: ${event.data}`);
    },
  })),
);

export default { fetch: app.fetch, websocket: adapter.websocket };
