/** Started through mod.ts serve(): the app is an object in this script. */
import process from "node:process";
import { serve } from "../../mod.ts";

const port = process.env.TEST_PORT ?? "0";
const code = await serve({
  app: { fetch: () => new Response(`programmatic ${process.pid}`) },
  workers: 2,
  bind: [`127.0.0.1:${port}`],
});
process.exit(code);
