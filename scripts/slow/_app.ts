/**
 * The app scripts/slow/main.ts serves: `GET` answers at once, `POST` reads
 * the whole body first (as an upload handler does) and answers its size.
 * @module
 */
export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method === "POST") return new Response(`read ${(await request.arrayBuffer()).byteLength}\n`);
    return new Response("ok\n", { headers: { "content-type": "text/plain" } });
  },
};
