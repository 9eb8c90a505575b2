/**
 * The runtime seam: the one interface Deno and Bun each implement. No file
 * outside lib/runtime/ names `Deno.` or `Bun.`.
 * @module
 */
import type { Address } from "../address.ts";

/** Signals corral sends or listens for. */
export type Signal =
  | "SIGTERM"
  | "SIGINT"
  | "SIGQUIT"
  | "SIGHUP"
  | "SIGKILL"
  | "SIGUSR1"
  | "SIGUSR2"
  | "SIGTTIN"
  | "SIGTTOU"
  | "SIGWINCH";

/** The client's address as the app sees it in `info.remoteAddr`. */
export type RemoteAddr =
  | { readonly transport: "tcp"; readonly hostname: string; readonly port: number }
  | { readonly transport: "unix"; readonly path: string };

/**
 * Set to true by a runtime on the info of a request whose connection the app
 * took over with the runtime's own upgrade (Bun's `server.upgrade()`),
 * whatever the handler returned then: corral logs and counts it as 101.
 * Deno needs none: its upgrade's response is a 101.
 */
export const UPGRADED: unique symbol = Symbol("corral.upgraded");

/**
 * Implemented by a runtime's info that takes a proxied client in place
 * (Bun's, which is the server as well): returns the info the app sees, with
 * `remoteAddr` and whatever else names the client reporting `client`.
 * Without it, the front wraps the info (proxy.ts).
 */
export const FORWARDED_TO: unique symbol = Symbol("corral.forwardedTo");

/**
 * The second argument of a fetch handler: at least `remoteAddr`; on each
 * runtime, what its own server passes (Deno's ServeHandlerInfo, Bun's
 * Server), with `remoteAddr` added where the runtime has none.
 */
export interface ServeInfo {
  readonly remoteAddr: RemoteAddr;
  readonly [UPGRADED]?: boolean;
  [FORWARDED_TO]?(client: RemoteAddr): ServeInfo;
}

/**
 * A Web-standard fetch handler. On Bun it returns nothing once it upgraded
 * the connection (`server.upgrade()`), as Bun's own handlers do.
 */
export type Handler = (
  request: Request,
  info: ServeInfo,
) => Response | undefined | Promise<Response | undefined>;

/** Answers a request whose handler threw or rejected. */
export type ErrorHandler = (error: unknown) => Response | Promise<Response>;

/**
 * The requests the app has been handed and has not answered yet, and
 * those whose streamed response is still being sent ({@link Runtime}'s
 * `whenSent`). The runtime's connection watcher (runtime/_watcher.ts) asks
 * it only when a connection looks too slow (one whose request is in it has
 * sent its whole head) or idle (one whose request is in it is not). The
 * worker keeps it (lib/worker/in_flight.ts).
 */
export interface InFlightRequests {
  readonly size: number;
  /** Calls `fn` for each request in flight, with the info its handler got. */
  forEach(fn: (request: Request, info: ServeInfo) => void): void;
}

/** What one look of the connection watcher closed. */
export interface ClosedConnections {
  /** Idle past `idleTimeout`. */
  readonly idle: number;
  /** Request heads not complete in time (`headerTimeout`), or no request at all. */
  readonly heads: number;
  /** Request bodies too slow (`bodyTimeout`). */
  readonly bodies: number;
  /** Of the heads and bodies, how many were answered 408 before the close. */
  readonly answered: number;
}

/** How one server is started. */
export interface ServeSpec {
  readonly address: Address;
  /** SO_REUSEPORT: several workers bind the same TCP address. */
  readonly reusePort: boolean;
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly handler: Handler;
  /** Turns a thrown or rejected handler into the response the client gets. */
  readonly onError: ErrorHandler;
  /**
   * The app's export, for the keys the runtime's own server takes from a
   * served module besides `fetch` (Bun.serve's `websocket`, `routes`,
   * `static`...; Deno's `onListen`). Keys naming where to listen are
   * corral's and are not taken (app_loader.ts warns of them).
   */
  readonly app?: object | null;
  /**
   * Wraps another handler of the app (a Bun `routes` entry) in corral's
   * per-request work, as `handler` is wrapped, sharing its state.
   */
  readonly wrap?: (handler: Handler) => Handler;
  /**
   * Seconds a connection may wait for its client's next request before it
   * is closed; absent, never (a request in progress is never cut). Enforced
   * on Linux from runtime/_sockets.ts on both runtimes (Deno.serve has no
   * idle timeout, and Bun's also cuts slow requests, so it is turned off).
   */
  readonly idleTimeout?: number;
  /**
   * Slow clients, with Apache mod_reqtimeout's rule: a client may take
   * `headerTimeout + bytes / minUploadRate` seconds to send a request head,
   * `bodyTimeout + bytes / minUploadRate` for the whole request once the
   * head is at the app (only the time it spends sending counts); slower, the
   * connection is closed (408 first on plain HTTP/1 where nothing was sent
   * since). Absent or 0, that rule is off. Enforced like `idleTimeout`
   * (runtime/_exchange.ts); never on an upgraded connection.
   */
  readonly headerTimeout?: number;
  readonly bodyTimeout?: number;
  /** Bytes per second; 500 when not given. */
  readonly minUploadRate?: number;
  /** The requests in flight in this process (for the timeouts above); none when not given. */
  readonly inFlight?: InFlightRequests;
  /** Told after a look of the watcher closed connections. */
  readonly onClosed?: (closed: ClosedConnections) => void;
  /**
   * A socket to serve instead of binding `address` (which then says what it
   * is bound to): one systemd passed, or one bound before the worker
   * dropped its privileges (runtime/_adopt.ts). Listening or only bound.
   */
  readonly listenFd?: number;
  /** `listenFd` is accepted from by other processes too (systemd's socket). */
  readonly sharedListener?: boolean;
}

/** A listening server. */
export interface RunningServer {
  /**
   * Stops accepting, lets in-flight requests finish, closes idle
   * connections; resolves once the open WebSockets are closed too (they are
   * left open: see {@link WebSockets.closeAll}).
   */
  shutdown(): Promise<void>;
  /**
   * Stops new connections from reaching this server, and nothing else: the
   * connections it has are served until {@link shutdown}. Where the runtime
   * needs it (see runtime/_sockets.ts); true when it was done.
   */
  detach?(): boolean;
  /**
   * Settles when the server has stopped serving, whether asked to or not
   * (Deno's server ends when, say, an upgrade response is not the one the
   * upgrade made). Absent where the runtime's server cannot end on its own.
   */
  readonly finished?: Promise<void>;
  /**
   * Whether a connection of this server still has a request on its way:
   * bytes it has not read, or a fresh connection that has not sent yet
   * (Linux, runtime/_sockets.ts). A draining worker waits for it before
   * {@link shutdown}. Absent where it cannot be told.
   */
  pendingInput?(): boolean;
}

/**
 * The WebSockets the app opened through its runtime's own API (Bun's
 * `websocket` handlers, `Deno.upgradeWebSocket`) and that are still open,
 * in this process.
 */
export interface WebSockets {
  readonly open: number;
  /** Closes every open one with `code` and `reason` (1001 "going away" at a stop). */
  closeAll(code: number, reason: string): void;
}

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: string | null;
}

/** A worker subprocess: its stdin is the master's message pipe. */
export interface ChildProcess {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  /** Writes one line to the child's stdin; a gone child is not an error. */
  send(line: string): void;
  kill(signal: Signal): void;
}

/** Paths and hosts a worker must reach, for runtimes with permissions. */
export interface WorkerNeeds {
  readonly read: readonly string[];
  readonly write: readonly string[];
  /** `host:port` entries. */
  readonly net: readonly string[];
}

/** Options of {@link Runtime.spawn}. */
export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: "pipe" | "null";
  /** Descriptors the child gets at the same numbers (systemd's sockets). */
  readonly fds?: readonly number[];
}

/** The user, group and groups a process switches to (--user). */
export interface Ids {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: [gid] unless --initgroups. */
  readonly groups: readonly number[];
}

/**
 * Memory this process shares with others of the machine, and the clock
 * they share: what lets the master read a worker's watchdog (its loop's
 * last tick, the requests in flight) even while the worker's event loop is
 * blocked, with no thread in the worker to report it (Linux, libc).
 */
export interface SharedMemory {
  /**
   * Creates the file at `path` (mode 0600, `bytes` zero bytes) and maps it
   * shared into this process: what is written to the buffer is in the file
   * at once, for another process to read. Never unmapped.
   * @throws {Error} when the file cannot be made or mapped.
   */
  map(path: string, bytes: number): ArrayBuffer;
  /** CLOCK_MONOTONIC, in milliseconds: one clock for every process of the machine, never stepped. */
  monotonicMs(): number;
}

/** What corral needs from the runtime it runs on. */
export interface Runtime {
  readonly name: "deno" | "bun";
  readonly version: string;
  /** Command-line arguments after the program. */
  readonly args: readonly string[];
  /**
   * The command that starts this same program again, without arguments.
   * `needs` lists what a worker must be allowed, where a runtime has
   * permissions to pass on (Deno).
   */
  selfCommand(needs?: WorkerNeeds): string[];
  /**
   * Starts a child process. Its stdin is a pipe (`send`) unless `stdin` is
   * "null"; `env` adds to this process's environment.
   */
  spawn(argv: string[], options?: SpawnOptions): ChildProcess;
  /**
   * Serves `spec.handler` on `spec.address`. The servers' `shutdown()`
   * waits for the open WebSockets to close ({@link webSockets}).
   */
  serve(spec: ServeSpec): RunningServer;
  /**
   * For a response the handler returned with `info`: a promise that
   * settles once the runtime has sent it, when its body is a stream the app
   * may still be writing (Server-Sent Events, a long download); null when
   * the runtime has the body whole, or cannot tell which connection a
   * response is on (Bun: its watcher asks how many responses the servers
   * are still sending instead, runtime/_watcher.ts).
   * Until it settles, the request stays in the worker's list of requests
   * in flight, so that the connection watcher never closes its connection
   * as idle.
   */
  whenSent(response: Response, info: ServeInfo): Promise<void> | null;
  readonly webSockets: WebSockets;
  /**
   * Why this process cannot watch its connections (so `idleTimeout`,
   * `headerTimeout` and `bodyTimeout` are not enforced), or null when it can.
   */
  connectionWatchProblem(): string | null;
  /**
   * Why this process's own sockets (the workers' channel, the control
   * socket) cannot be kept from the children it starts, or null when they
   * are, or the runtime never passes them (runtime/_close_on_exec.ts).
   */
  inheritProblem?(): string | null;
  /** Shared memory and the machine's clock; null where the runtime cannot map a file (see {@link SharedMemory}). */
  sharedMemory(): SharedMemory | null;
  /**
   * A stream socket bound to `address` (an IP literal or a unix path) and
   * not listening yet, for {@link ServeSpec.listenFd}. Linux.
   * @throws {Error} with `errno` when the bind fails.
   */
  bindSocket(address: Address, reusePort: boolean): number;
  /** What the socket `fd` is bound to when it is a listening stream socket; else null. Linux. */
  listeningAddress(fd: number): Address | null;
  /** Switches this process to other ids: groups, group, then user. */
  setIds(ids: Ids): void;
  onSignal(signal: Signal, listener: () => void): void;
  /** Lines from stdin; ends when the writer closes it. */
  stdinLines(): AsyncIterable<string>;
  /**
   * Runs `listener` (synchronous work only) as the process exits through
   * {@link exit} or because nothing is left to do; not after a SIGKILL.
   */
  onExit(listener: () => void): void;
  exit(code: number): never;
  /**
   * Imports the app module at `url` after `import()` failed with
   * `failure`, where this runtime can do better (Bun: an app written for
   * Deno, bun_deno_config.ts); null when it cannot.
   */
  importApp?(url: string, failure: unknown): Promise<Record<string, unknown> | null>;
}
