/**
 * The load generator of scripts/stress/main.ts: N clients, each sending
 * `GET /` to a loopback port and waiting for the whole response before
 * the next, paced to a steady rate, until stopped. Every request ends as
 * one of: answered 2xx, answered otherwise, or failed with an error code;
 * nothing is retried, so a reset that a browser would paper over by
 * retrying still counts.
 *
 * Raw HTTP/1.1 over node:net rather than node:http or fetch: those
 * clients differ between Deno and Bun (pools, retries of idempotent
 * requests on a reused connection, how a reset is reported), and the
 * stress test must measure the server, not the client. This one behaves
 * like a plain keep-alive client (Node's http.Agent): it reuses a
 * connection until the server answers `Connection: close` or closes it,
 * and it does not retry.
 * @module
 */
import { connect, type Socket } from "node:net";

/** Keep-alive reuses a connection; new-connection opens one per request. */
export type Mode = "keep-alive" | "new-connection";

/** A request with no response by then has failed (ETIMEDOUT). */
const REQUEST_TIMEOUT_MS = 10_000;
const HEAD_END = "\r\n\r\n";

/** One failed request. */
export interface Failure {
  /** When the request was sent, in ms since the load started. */
  readonly sentAt: number;
  /** When it failed. */
  readonly at: number;
  /** ECONNRESET, ECONNREFUSED, EPIPE, EOF (closed with no response), ETIMEDOUT, HTTP 503... */
  readonly code: string;
  /** Sent on a connection that had served a request already. */
  readonly reused: boolean;
  /** The worker that answered the connection's last request, if it was reused. */
  readonly pid: number | null;
  /** The client's port of the connection, once it connected: which server process held it can be looked up. */
  readonly localPort: number | null;
}

/** What a run counted. */
export interface LoadResult {
  readonly mode: Mode;
  /** Requests that ended, answered or failed. */
  readonly requests: number;
  readonly failures: readonly Failure[];
  /** Responses that said `Connection: close`. */
  readonly closeHeaders: number;
  /** Keep-alive connections the server closed between requests (the client noticed before sending). */
  readonly idleClosed: number;
  /** Requests answered by each worker pid. */
  readonly pids: ReadonlyMap<number, number>;
  readonly seconds: number;
}

/** Options of a {@link Load}. */
export interface LoadOptions {
  readonly port: number;
  readonly mode: Mode;
  readonly clients: number;
  /** Requests per second over all clients; each client is paced to its share. */
  readonly rate: number;
  /** The `performance.now()` that times count from: the same for loads compared with each other. */
  readonly origin?: number;
}

/** What the client needs of a response. */
interface _Reply {
  readonly status: number;
  readonly close: boolean;
  readonly pid: number | null;
}

class _RequestError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

/** One client connection: one request at a time, no pipelining. */
class _Connection {
  readonly #socket: Socket;
  #buffered = "";
  #pending: { resolve: (r: _Reply) => void; reject: (e: _RequestError) => void } | null = null;
  #ended: string | null = null;
  #connected: Promise<void>;
  /** Requests answered on it so far. */
  served = 0;
  /** The pid that answered its last request. */
  pid: number | null = null;
  /** A request is in flight on it. */
  busy = false;
  /** This end's port, once connected. */
  localPort: number | null = null;

  constructor(port: number) {
    this.#socket = connect({ host: "127.0.0.1", port });
    this.#socket.setNoDelay(true);
    // latin1 keeps one char per byte, so Content-Length counts chars.
    this.#socket.setEncoding("latin1");
    this.#connected = new Promise((resolve) =>
      this.#socket.once("connect", () => {
        this.localPort = this.#socket.localPort ?? null;
        resolve();
      })
    );
    this.#connected.catch(() => {});
    this.#socket.on("data", (chunk: string) => this.#onData(chunk));
    this.#socket.on("error", (err: Error & { code?: string }) => this.#fail(err.code ?? err.message));
    this.#socket.on("end", () => this.#fail("EOF"));
    this.#socket.on("close", () => this.#fail("EOF"));
  }

  /** The server closed it, or it failed: it cannot carry another request. */
  get ended(): boolean {
    return this.#ended !== null;
  }

  /** The server closed it between requests (FIN or reset), not this client. */
  get closedByServer(): boolean {
    return this.#ended !== null && this.#ended !== "CLOSED";
  }

  #fail(code: string): void {
    this.#ended ??= code;
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(new _RequestError(this.#ended));
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    const end = this.#buffered.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.#buffered.slice(0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.close("NO-LENGTH"); // Our app always sends one.
    if (this.#buffered.length < end + HEAD_END.length + Number(length[1])) return;
    const rest = this.#buffered.slice(end + HEAD_END.length + Number(length[1]));
    this.#buffered = "";
    const pending = this.#pending;
    this.#pending = null;
    if (!pending || rest !== "") return this.close("UNEXPECTED-DATA");
    const pid = /\r\nx-pid:\s*(\d+)/i.exec(head);
    pending.resolve({
      status: Number(head.slice(9, 12)),
      close: /\r\nconnection:\s*close/i.test(head),
      pid: pid ? Number(pid[1]) : null,
    });
  }

  /** Sends `GET /` and resolves with the response; rejects with a {@link _RequestError}. */
  async request(): Promise<_Reply> {
    if (this.#ended !== null) throw new _RequestError(this.#ended);
    const answered = new Promise<_Reply>((resolve, reject) => this.#pending = { resolve, reject });
    await Promise.race([this.#connected, answered.then(() => {}, () => {})]);
    if (this.#ended === null) this.#socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new _RequestError("ETIMEDOUT")), REQUEST_TIMEOUT_MS);
    });
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(code = "CLOSED"): void {
    this.#fail(code);
    this.#socket.destroy();
  }
}

/** A running load: {@link Load.stop} ends it and returns the counts. */
export class Load {
  readonly options: LoadOptions;
  readonly #started: number;
  readonly #failures: Failure[] = [];
  readonly #pids = new Map<number, number>();
  readonly #pidWaiters: { pid: number; resolve: () => void }[] = [];
  readonly #connections = new Set<_Connection>();
  readonly #clients: Promise<void>[] = [];
  #requests = 0;
  #inFlight = 0;
  #closeHeaders = 0;
  #idleClosed = 0;
  #running = true;
  #wakeSleepers = new Set<() => void>();

  private constructor(options: LoadOptions) {
    this.options = options;
    this.#started = options.origin ?? performance.now();
    for (let i = 0; i < options.clients; i++) this.#clients.push(this.#client(i));
  }

  /** Starts `clients` clients against `port`. */
  static start(options: LoadOptions): Load {
    return new Load(options);
  }

  get mode(): Mode {
    return this.options.mode;
  }

  /** Requests ended so far. */
  get requests(): number {
    return this.#requests;
  }

  /** Failures so far. */
  get failures(): readonly Failure[] {
    return this.#failures;
  }

  /** Requests answered by each pid so far. */
  get pids(): ReadonlyMap<number, number> {
    return this.#pids;
  }

  /** ms since the load started. */
  now(): number {
    return performance.now() - this.#started;
  }

  /** Requests sent and not yet answered. */
  inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Requests in flight that may be on `pid`: on a connection it answered
   * last, or on a fresh one whose worker is not known yet.
   */
  inFlightOn(pid: number): number {
    let n = 0;
    for (const c of this.#connections) if (c.busy && (c.pid === pid || c.served === 0)) n++;
    return n;
  }

  /** Resolves once a response from `pid` has come in. */
  served(pid: number): Promise<void> {
    if (this.#pids.has(pid)) return Promise.resolve();
    return new Promise((resolve) => this.#pidWaiters.push({ pid, resolve }));
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || !this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakeSleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakeSleepers.add(wake);
    });
  }

  async #client(index: number): Promise<void> {
    const { port, mode, clients, rate } = this.options;
    const interval = rate > 0 ? (clients / rate) * 1000 : 0;
    // Spread the clients' first requests over one interval, so the load is steady.
    let next = performance.now() + (interval * index) / clients;
    await this.#sleep(next - performance.now());
    let connection: _Connection | null = null;
    while (this.#running) {
      if (connection?.ended) {
        // Ended while idle, by the server (a FIN or a reset between requests).
        if (connection.closedByServer) this.#idleClosed++;
        this.#connections.delete(connection);
        connection = null;
      }
      const conn: _Connection = connection ?? this.#open(port);
      connection = conn;
      const reused = conn.served > 0;
      const sentAt = this.now();
      this.#inFlight++;
      conn.busy = true;
      try {
        const response = await conn.request();
        this.#count(response);
        conn.served++;
        conn.pid = response.pid;
        if (response.status < 200 || response.status > 299) {
          this.#fail(sentAt, `HTTP ${response.status}`, reused, response.pid, conn.localPort);
        }
        if (response.close) this.#closeHeaders++;
        if (response.close || mode === "new-connection") connection = this.#drop(conn);
      } catch (err) {
        if (!(err instanceof _RequestError)) throw err;
        this.#requests++;
        this.#fail(sentAt, err.code, reused, reused ? conn.pid : null, conn.localPort);
        connection = this.#drop(conn);
      } finally {
        this.#inFlight--;
        conn.busy = false;
      }
      next += interval;
      // A client that fell behind skips the slots it missed, rather than
      // catching up in a burst, and keeps its phase: clients stay spread.
      const now = performance.now();
      if (next < now && interval > 0) next += Math.ceil((now - next) / interval) * interval;
      await this.#sleep(next - performance.now());
    }
    if (connection) this.#drop(connection);
  }

  #open(port: number): _Connection {
    const connection = new _Connection(port);
    this.#connections.add(connection);
    return connection;
  }

  #drop(connection: _Connection): null {
    connection.close();
    this.#connections.delete(connection);
    return null;
  }

  #count(response: _Reply): void {
    this.#requests++;
    if (response.pid === null) return;
    this.#pids.set(response.pid, (this.#pids.get(response.pid) ?? 0) + 1);
    for (let i = this.#pidWaiters.length - 1; i >= 0; i--) {
      const waiter = this.#pidWaiters[i] as { pid: number; resolve: () => void };
      if (waiter.pid !== response.pid) continue;
      this.#pidWaiters.splice(i, 1);
      waiter.resolve();
    }
  }

  #fail(sentAt: number, code: string, reused: boolean, pid: number | null, localPort: number | null): void {
    this.#failures.push({ sentAt, at: this.now(), code, reused, pid, localPort });
  }

  /**
   * Stops sending; requests in flight finish (or time out) and count.
   * Idle keep-alive connections are closed by the client, as a client
   * going away does.
   */
  async stop(): Promise<LoadResult> {
    this.#running = false;
    for (const wake of [...this.#wakeSleepers]) wake();
    await Promise.all(this.#clients);
    for (const c of this.#connections) c.close();
    this.#connections.clear();
    return {
      mode: this.options.mode,
      requests: this.#requests,
      failures: [...this.#failures],
      closeHeaders: this.#closeHeaders,
      idleClosed: this.#idleClosed,
      pids: new Map(this.#pids),
      seconds: this.now() / 1000,
    };
  }
}

/** Failures by code, most frequent first: "ECONNRESET×3 (reused), EOF×1". */
export function describeFailures(failures: readonly Failure[]): string {
  const counts = new Map<string, number>();
  for (const f of failures) {
    const key = f.reused ? `${f.code} (reused conn)` : f.code;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}×${n}`).join(", ");
}
