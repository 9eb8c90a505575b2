/**
 * Answers with the worker's pid; /slow?ms=N waits first; /throw throws; /addr
 * shows info.remoteAddr; /sized answers 5 bytes with a declared Content-Length.
 */
import process from "node:process";

export default {
  async fetch(request: Request, info: { remoteAddr: unknown }): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/slow") {
      console.error("slow request started");
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get("ms") ?? 1000)));
    }
    if (url.pathname === "/throw") throw new Error("boom from the app");
    if (url.pathname === "/reject") return Promise.reject(new Error("rejected by the app"));
    if (url.pathname === "/addr") return Response.json(info.remoteAddr);
    if (url.pathname === "/sized") return new Response("sized", { headers: { "content-length": "5" } });
    return new Response(String(process.pid));
  },
};

export function plain(_request: Request): Response {
  return new Response("plain function");
}

export const notAHandler = 42;
