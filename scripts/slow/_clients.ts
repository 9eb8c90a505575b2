/**
 * The normal clients of scripts/slow/main.ts: keep-alive connections each
 * sending `GET /` on a fixed schedule, over raw HTTP/1.1 (as
 * scripts/stress/_load.ts does, so that Deno's and Bun's clients do not
 * differ). A request's latency runs from when it was due, not from when
 * it could be sent, so a server that stalls its clients is not excused by
 * their waiting (no coordinated omission). A connection the server closes
 * is opened again; a failed request is counted, never retried.
 * @module
 */
import { connect, type Socket } from "node:net";

/** What a run of the clients measured. */
export interface ClientsResult {
  readonly requests: number;
  readonly failed: number;
  /** Milliseconds: median, 99th percentile, slowest; 0 when nothing was answered. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The 99th percentile of the requests due after the run's first `skipS` seconds. */
  readonly p99Later: number;
}

const REQUEST = "GET / HTTP/1.1\r\nHost: slow\r\n\r\n";
const TIMEOUT_MS = 10_000;

/** One keep-alive client on its schedule. */
class _Client {
  readonly #port: number;
  readonly #everyMs: number;
  readonly #latencies: [due: number, ms: number][];
  #socket: Socket | null = null;
  #buffer = "";
  #due = 0;
  #waiting: ((ok: boolean) => void) | null = null;
  failed = 0;
  stopped = false;

  constructor(port: number, everyMs: number, latencies: [number, number][]) {
    this.#port = port;
    this.#everyMs = everyMs;
    this.#latencies = latencies;
  }

  #connect(): Socket {
    const socket = connect(this.#port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.#buffer += d;
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.#buffer.slice(0, end))?.[1] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      this.#buffer = this.#buffer.slice(end + 4 + length);
      this.#waiting?.(true);
    });
    const lost = () => {
      if (this.#socket === socket) this.#socket = null;
      this.#waiting?.(false);
    };
    socket.on("close", lost);
    socket.on("error", lost);
    return socket;
  }

  /** Sends one request and waits for its answer; false when it failed. */
  #once(): Promise<boolean> {
    this.#socket ??= this.#connect();
    this.#buffer = "";
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#waiting?.(false), TIMEOUT_MS);
      this.#waiting = (ok) => {
        clearTimeout(timer);
        this.#waiting = null;
        resolve(ok);
      };
      this.#socket?.write(REQUEST);
    });
  }

  async run(startAt: number): Promise<void> {
    this.#due = startAt;
    while (!this.stopped) {
      const wait = this.#due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.stopped) break;
      const ok = await this.#once();
      if (ok) this.#latencies.push([this.#due, performance.now() - this.#due]);
      else {
        this.failed++;
        this.#socket?.destroy();
        this.#socket = null;
      }
      this.#due += this.#everyMs;
    }
    this.#socket?.destroy();
  }
}

function _quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number : 0;
}

/**
 * Runs `connections` clients sending `rate` requests a second in all to
 * 127.0.0.1:`port` for `seconds`.
 */
export async function runClients(
  port: number,
  connections: number,
  rate: number,
  seconds: number,
  skipS = 0,
): Promise<ClientsResult> {
  const latencies: [number, number][] = [];
  const everyMs = (1000 * connections) / rate;
  const start = performance.now();
  const clients = Array.from({ length: connections }, () => new _Client(port, everyMs, latencies));
  // Spread over one period, so that the requests do not come in bursts.
  const runs = clients.map((c, i) => c.run(start + (everyMs * i) / connections));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const c of clients) c.stopped = true;
  await Promise.all(runs);
  const sorted = latencies.map(([, ms]) => ms).sort((a, b) => a - b);
  const later = latencies.filter(([due]) => due >= start + skipS * 1000).map(([, ms]) => ms);
  const failed = clients.reduce((n, c) => n + c.failed, 0);
  return {
    requests: sorted.length + failed,
    failed,
    p50: _quantile(sorted, 0.5),
    p99: _quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    p99Later: _quantile(later.sort((a, b) => a - b), 0.99),
  };
}
