/**
 * A small keep-alive HTTP/1.1 load generator for scripts/bench/main.ts, because
 * wrk cannot reach a unix socket. N connections each send `GET /`, wait for
 * the whole response, then send the next (no pipelining), for a fixed time.
 * It prints one JSON line: requests, seconds, non2xx, errors.
 *
 * `bun scripts/bench/_unix_client.ts --path /tmp/corral.sock -c 50 -d 10`
 * `deno run -A scripts/bench/_unix_client.ts --port 8000 -c 50 -d 10`
 * @module
 */
import { connect, type Socket } from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const HEAD_END = "\r\n\r\n";

/** What one run counted. */
export interface LoadResult {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
}

function _connection(open: () => Socket, result: LoadResult, running: () => boolean): void {
  const socket = open();
  // latin1 keeps one char per byte, so Content-Length counts chars.
  socket.setEncoding("latin1");
  socket.setNoDelay(true);
  let buffered = "";
  socket.on("connect", () => socket.write(REQUEST));
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    const end = buffered.indexOf(HEAD_END);
    if (end < 0) return;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(buffered.slice(0, end));
    if (!length) {
      // Without a length this client cannot find the response's end.
      result.errors++;
      socket.destroy();
      return;
    }
    if (buffered.length < end + HEAD_END.length + Number(length[1])) return;
    if (!running()) return;
    result.requests++;
    if (buffered.charCodeAt(9) !== 50 /* "2" in "HTTP/1.1 2xx" */) result.non2xx++;
    buffered = "";
    socket.write(REQUEST);
  });
  socket.on("error", () => {
    if (running()) result.errors++;
  });
  // A server that drops the connection gets a new one, as wrk does.
  socket.on("close", () => running() && _connection(open, result, running));
}

/** Keeps `connections` connections busy for `seconds` and counts responses. */
export function load(open: () => Socket, connections: number, seconds: number): Promise<LoadResult> {
  const result: LoadResult = { requests: 0, seconds: 0, non2xx: 0, errors: 0 };
  const start = performance.now();
  let running = true;
  for (let i = 0; i < connections; i++) _connection(open, result, () => running);
  return new Promise((resolve) => {
    setTimeout(() => {
      running = false;
      result.seconds = (performance.now() - start) / 1000;
      resolve(result);
    }, seconds * 1000);
  });
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      path: { type: "string" },
      port: { type: "string" },
      connections: { type: "string", short: "c", default: "50" },
      duration: { type: "string", short: "d", default: "10" },
    },
  });
  const { path, port } = values;
  if ((path === undefined) === (port === undefined)) {
    throw new TypeError("Give exactly one of --path or --port");
  }
  const open = path !== undefined
    ? () => connect(path)
    : () => connect({ host: "127.0.0.1", port: Number(port) });
  const result = await load(open, Number(values.connections), Number(values.duration));
  process.stdout.write(JSON.stringify(result) + "\n");
  // Open sockets would keep the loop alive; the counts are out, so leave.
  process.exit(0);
}

if (import.meta.main) await main(process.argv.slice(2));
