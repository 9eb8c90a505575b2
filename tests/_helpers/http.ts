/** One HTTP request on a fresh connection (no keep-alive pool), bounded in time. */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as http2Connect } from "node:http2";
import { connect } from "node:net";

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function get(
  url: string,
  options: {
    socketPath?: string;
    timeoutMs?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  } = {},
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
    req.end(options.body);
  });
}

/**
 * Sends `head`, then `piece` `count` times as fast as the server takes it,
 * and resolves with what came back once a whole response head arrived (or
 * the connection ended): the way an uploading client meets a refusal.
 */
export function sendingAll(port: number, head: string, piece: string, count: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    let sent = 0;
    // Nothing came back: say how the connection ended, for the assertion's message.
    const done = (why?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out === "" && why ? `(no answer: ${why} after ${sent} of ${count} pieces)` : out);
    };
    const timer = setTimeout(() => done("timed out"), 10_000);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      out += d;
      if (out.includes("\r\n\r\n")) done();
    });
    socket.on("error", (err: Error & { code?: string }) => done(err.code ?? err.message));
    socket.on("close", () => done("closed"));
    socket.write(head);
    const pump = () => {
      while (sent < count && !socket.destroyed && socket.write(piece)) sent++;
      if (sent < count && !socket.destroyed) socket.once("drain", pump);
    };
    pump();
  });
}

/**
 * Sends `text` as it is on a fresh connection to `host:port` and resolves
 * with the status code and body once the server closes it (HTTP/1.0, or
 * `Connection: close`), bounded in time.
 */
export function rawRequest(
  port: number,
  text: string,
  host = "127.0.0.1",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let out = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No complete answer to ${JSON.stringify(text)}: ${JSON.stringify(out)}`));
    }, 10_000);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => out += d);
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const head = out.indexOf("\r\n\r\n");
      let body = head < 0 ? "" : out.slice(head + 4);
      // A chunked body: the tests' bodies are short, one chunk.
      if (/\r\ntransfer-encoding: chunked/i.test(out.slice(0, head))) body = body.split("\r\n")[1] ?? "";
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0), body });
    });
    socket.write(text);
  });
}

/** One HTTP/2 request through ALPN, for `path` with `headers`. */
export function h2get(
  port: number,
  path = "/",
  headers: Record<string, string> = {},
): Promise<{ status: number; alpn: string | false | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on("error", reject);
    const req = session.request({ ":path": path, ...headers });
    let body = "";
    let status = 0;
    req.setEncoding("utf8");
    req.on("response", (headers) => status = Number(headers[":status"]));
    req.on("data", (d: string) => body += d);
    req.on("end", () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, alpn, body });
    });
    req.on("error", reject);
    req.end();
  });
}
