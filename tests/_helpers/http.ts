/** One HTTP request on a fresh connection (no keep-alive pool), bounded in time. */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function get(
  url: string,
  options: { socketPath?: string; timeoutMs?: number; method?: string; headers?: Record<string, string> } =
    {},
): Promise<Reply> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send({
      hostname: u.hostname.replace(/^\[|\]$/g, ""),
      port: u.port,
      path: u.pathname + u.search,
      method: options.method ?? "GET",
      agent: false,
      rejectUnauthorized: false,
      headers: { connection: "close", ...options.headers },
      ...(options.socketPath ? { socketPath: options.socketPath } : {}),
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => body += d);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on("error", reject);
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`Request to ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
