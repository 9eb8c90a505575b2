/**
 * What a worker's stop does to the connections it has, on the runtime
 * running this file, through corral's own runtime seam (the same serve()
 * and shutdown() a worker calls: Deno's server.shutdown(), Bun's
 * server.stop(false)). One raw client per case prints what it saw:
 *
 * - idle: a keep-alive connection with no request at the stop;
 * - in flight: a request the app is still answering at the stop;
 * - unread: a request that reached the socket but that the server has
 *   not read yet when the stop begins (the event loop was busy);
 * - silent: a connection accepted, its first request not sent yet;
 * - close header: does the server close after a response that says
 *   `Connection: close`, or leave that to the client?
 *
 * `deno run -A scripts/stress/_probe.ts`, `bun scripts/stress/_probe.ts`
 * @module
 */
import { connect, type Socket } from "node:net";
import process from "node:process";
import { runtime } from "../../lib/runtime/mod.ts";

const SLOW_MS = 200;

/** A raw client that logs what reaches it, in ms since the probe began. */
class Client {
  readonly socket: Socket;
  readonly seen: string[] = [];
  readonly #t0: number;
  #sent = 0;
  #answers = 0;

  constructor(port: number, t0: number) {
    this.#t0 = t0;
    this.socket = connect({ host: "127.0.0.1", port });
    this.socket.setEncoding("latin1");
    this.socket.on("data", (d: string) => {
      this.#answers++;
      const close = /\r\nconnection:\s*close/i.test(d) ? " with Connection: close" : "";
      this.#note(`${d.slice(9, 12)} response${close}`);
    });
    this.socket.on("end", () => this.#note("FIN"));
    this.socket.on("error", (e: Error & { code?: string }) => this.#note(e.code ?? e.message));
  }

  /** Sends `GET /` plus `query`. */
  get(query = ""): void {
    this.#sent++;
    this.socket.write(`GET /${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  }

  /** What it saw, and whether a request went unanswered. */
  report(): string {
    const lost = this.#sent - this.#answers;
    return this.seen.join(", ") + (lost > 0 ? ` => ${lost} request LOST` : "");
  }

  /** What it saw. */
  events(): string {
    return this.seen.join(", ");
  }

  #note(what: string): void {
    this.seen.push(`${what} @${(performance.now() - this.#t0).toFixed(0)} ms`);
  }

  connected(): Promise<void> {
    return new Promise((resolve) => this.socket.once("connect", () => resolve()));
  }

  answered(): Promise<void> {
    return new Promise((resolve) => this.socket.once("data", () => resolve()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function _busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* the event loop is blocked: nothing is read */ }
}

async function main(): Promise<void> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = runtime.serve({
    address: { transport: "tcp", hostname: "127.0.0.1", port },
    reusePort: false,
    tls: null,
    onError: () => new Response("error", { status: 500 }),
    handler: async (request) => {
      if (new URL(request.url).search === "?slow") await sleep(SLOW_MS);
      const close = new URL(request.url).search === "?close";
      return new Response("ok\n", { headers: close ? { connection: "close" } : {} });
    },
  });
  const t0 = performance.now();
  const client = () => new Client(port, t0);

  const header = client();
  header.get("?close");
  await header.answered();
  header.get(); // Answered if the server leaves the closing to the client.
  const idle = client();
  idle.get();
  await idle.answered();
  const unread = client();
  unread.get();
  await unread.answered();
  const silent = client();
  await silent.connected();
  const inFlight = client();
  inFlight.get("?slow");
  await sleep(50);

  unread.get();
  _busy(20); // The request is in the server's socket buffer, unread.
  const stopAt = performance.now() - t0;
  const stopped = server.shutdown().then(() => performance.now() - t0);
  await sleep(50);
  silent.get();
  await sleep(SLOW_MS + 100);
  const lines = [
    `${runtime.name} ${runtime.version}: stop began @${stopAt.toFixed(0)} ms, ` +
    `shutdown() resolved @${(await stopped).toFixed(0)} ms`,
    `  close header: ${header.events()} (a second request sent after the first answer, before any stop)`,
    `  idle:         ${idle.report()}`,
    `  in flight:    ${inFlight.report()}`,
    `  unread:       ${unread.report()}`,
    `  silent:       ${silent.report()} (its request sent 50 ms after the stop began)`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  process.exit(0);
}

if (import.meta.main) await main();
