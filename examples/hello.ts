/** The demo app: `corral -w 2 examples/hello.ts`. */
export default {
  fetch(_request: Request): Response {
    return new Response("Hello, world!\n", { headers: { "content-type": "text/plain" } });
  },
};
