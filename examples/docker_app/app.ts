/**
 * The image's default app: a Hono app, with Hono installed by `npm ci` from
 * this folder's package.json and package-lock.json (see the Dockerfile).
 * /healthz is the image's health check (HEALTHCHECK_PATH).
 */
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("Hello from Hono, served by corral\n"));
app.get("/healthz", (c) => c.text("ok\n"));

export default app;
