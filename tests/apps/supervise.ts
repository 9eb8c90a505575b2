/**
 * An app for the supervision tests. /spin blocks the event loop for
 * ?ms=N; /grow keeps ?mb=N of memory; anything else answers the pid.
 * With CRASH_AFTER_MS set, the worker exits that long after it loads.
 */
import process from "node:process";

const kept: Uint8Array[] = [];
const crashAfter = Number(process.env.CRASH_AFTER_MS ?? 0);
if (crashAfter > 0) setTimeout(() => process.exit(1), crashAfter);

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/spin") {
      const end = Date.now() + Number(url.searchParams.get("ms") ?? 5000);
      while (Date.now() < end) { /* a stuck event loop */ }
    }
    if (url.pathname === "/grow") {
      const chunk = new Uint8Array(Number(url.searchParams.get("mb") ?? 100) * 1024 * 1024);
      chunk.fill(1);
      kept.push(chunk);
    }
    return new Response(String(process.pid));
  },
};
