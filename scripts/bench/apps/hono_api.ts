/**
 * The bench's real-app workload: a small Hono API, as issue #17 describes
 * it. A middleware sets a response header after the route ran, the route
 * reads a path parameter, the query string and a request header, and
 * answers JSON. The load asks `GET /users/42?fields=name,email` with
 * `Accept: application/json`.
 *
 * `corral scripts/bench/apps/hono_api.ts`, `deno serve scripts/bench/apps/hono_api.ts`
 * @module
 */
import { Hono } from "hono";

const app = new Hono();

app.use(async (c, next) => {
  await next();
  c.header("x-api-version", "1");
});

app.get("/users/:id", (c) => {
  const fields = c.req.query("fields")?.split(",") ?? [];
  return c.json({ id: c.req.param("id"), fields, accept: c.req.header("accept") ?? null });
});

export default app;
