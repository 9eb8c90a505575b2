/** Answers with an environment variable the worker received: /?name=OTEL_DENO. */
import process from "node:process";

export default {
  fetch(request: Request): Response {
    const name = new URL(request.url).searchParams.get("name") ?? "";
    return new Response(process.env[name] ?? "(unset)");
  },
};
