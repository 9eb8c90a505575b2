/**
 * The app the front's tests serve: /echo counts the request body, /slow
 * waits, /stream sends `n` events `ms` apart, /big sends `bytes` bytes, /hold waits for /release, /info shows what the app sees, /throw
 * throws, /headers-read tells whether the request's headers were read
 * before the app got it (Deno only: its Request's "headers cache").
 */
const held: (() => void)[] = [];

export default {
  async fetch(request: Request, info: { remoteAddr: unknown }): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/echo": {
        let bytes = 0;
        for await (const chunk of request.body ?? []) bytes += chunk.byteLength;
        return new Response(`read ${bytes}`);
      }
      case "/slow": {
        const ms = Number(url.searchParams.get("ms") ?? 1000);
        await new Promise((resolve) => setTimeout(resolve, ms));
        return new Response(`slept ${ms}`);
      }
      case "/stream": {
        // Server-Sent Events, as an app sends them: a pause of `ms` before each event after the first.
        const n = Number(url.searchParams.get("n") ?? 3);
        const ms = Number(url.searchParams.get("ms") ?? 1000);
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent > 0) await new Promise((resolve) => setTimeout(resolve, ms));
            if (sent === n) return controller.close();
            controller.enqueue(new TextEncoder().encode(`data: ${++sent}\n\n`));
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      }
      case "/hold":
        await new Promise<void>((resolve) => held.push(resolve));
        return new Response("held");
      case "/release":
        held.splice(0).forEach((resolve) => resolve());
        return new Response("released");
      case "/info":
        return Response.json({
          url: request.url,
          cloneUrl: request.clone().url,
          remoteAddr: info.remoteAddr,
          headers: [...request.headers],
        });
      case "/headers-read": {
        const cache = Object.getOwnPropertySymbols(request).find((key) =>
          key.description === "headers cache"
        );
        const read = cache === undefined
          ? "unknown"
          : String((request as unknown as Record<symbol, unknown>)[cache] !== undefined);
        return Response.json({ read, url: request.url, remoteAddr: info.remoteAddr });
      }
      case "/throw":
        throw new Error("boom from the front app");
      case "/big":
        return new Response(new Uint8Array(Number(url.searchParams.get("bytes") ?? 1 << 20)).fill(98));
      case "/sized":
        return new Response("twelve bytes", { headers: { "content-length": "12", "x-trace": "abc" } });
      case "/redirect":
        return Response.redirect("http://example.com/", 302);
      default:
        return new Response("ok");
    }
  },
};
