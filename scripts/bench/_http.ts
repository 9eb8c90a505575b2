/**
 * Loopback HTTP helpers for scripts/bench/main.ts: a free port, one raw GET over
 * TCP or a unix socket, and waiting until a server answers. Raw node:net,
 * because fetch cannot reach a unix socket on Deno.
 * @module
 */
import { connect, createServer } from "node:net";

/** Where a server listens: a loopback TCP port or a unix socket path. */
export type Target = { readonly port: number } | { readonly path: string };

/** One parsed response. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A loopback port that is free now: the kernel's pick for port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `GET path` with `Connection: close` and `headers` (`Name: value`);
 * rejects on any socket error or after `timeoutMs`.
 */
export function get(
  target: Target,
  timeoutMs: number,
  path = "/",
  headers: readonly string[] = [],
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = "path" in target
      ? connect(target.path)
      : connect({ host: "127.0.0.1", port: target.port });
    let text = "";
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`No response within ${timeoutMs} ms`)));
    socket.on(
      "connect",
      () =>
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => h + "\r\n").join("")}` +
            "Connection: close\r\n\r\n",
        ),
    );
    socket.on("data", (chunk: string) => text += chunk);
    socket.on("error", reject);
    socket.on("close", () => {
      const end = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const status = Number(statusLine.split(" ")[1]);
      if (end < 0 || !(status > 0)) return reject(new Error(`Not an HTTP response: "${text.slice(0, 80)}"`));
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status, headers, body: text.slice(end + 4) });
    });
  });
}

/**
 * Polls `GET path` until it succeeds. `gone()` ends the wait early when the
 * server process has exited, so a crash is reported, not waited out.
 */
export async function waitUntilServing(
  target: Target,
  timeoutMs: number,
  gone: () => boolean,
  path = "/",
  headers: readonly string[] = [],
): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline && !gone()) {
    try {
      return await get(target, 1000, path, headers);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const where = "path" in target ? target.path : `127.0.0.1:${target.port}`;
  throw new Error(
    `Server at ${where} ${gone() ? "exited" : `did not answer within ${timeoutMs} ms`}: ${last}`,
  );
}
