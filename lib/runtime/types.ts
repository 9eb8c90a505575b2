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

/** The second argument of a fetch handler. */
export interface ServeInfo {
  readonly remoteAddr: RemoteAddr;
}

/** A Web-standard fetch handler. */
export type Handler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** How one server is started. */
export interface ServeSpec {
  readonly address: Address;
  /** SO_REUSEPORT: several workers bind the same TCP address. */
  readonly reusePort: boolean;
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly handler: Handler;
  /** Turns a thrown or rejected handler into the response the client gets. */
  readonly onError: (error: unknown) => Response;
  /**
   * Seconds a connection may wait for its client's next request before it
   * is closed; absent, never (a request in progress is never cut). Enforced
   * on Linux from runtime/_sockets.ts on both runtimes (Deno.serve has no
   * idle timeout, and Bun's also cuts slow requests, so it is turned off).
   */
  readonly idleTimeout?: number;
  /** Requests in flight in this process (for idleTimeout); 0 when not given. */
  readonly inFlight?: () => number;
}

/** A listening server. */
export interface RunningServer {
  /** Stops accepting, lets in-flight requests finish, closes idle connections. */
  shutdown(): Promise<void>;
  /**
   * Stops new connections from reaching this server, and nothing else: the
   * connections it has are served until {@link shutdown}. Where the runtime
   * needs it (see runtime/_sockets.ts); true when it was done.
   */
  detach?(): boolean;
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
  serve(spec: ServeSpec): RunningServer;
  onSignal(signal: Signal, listener: () => void): void;
  /** Lines from stdin; ends when the writer closes it. */
  stdinLines(): AsyncIterable<string>;
  exit(code: number): never;
  /**
   * Imports the app module at `url` after `import()` failed with
   * `failure`, where this runtime can do better (Bun: an app written for
   * Deno, bun_deno_config.ts); null when it cannot.
   */
  importApp?(url: string, failure: unknown): Promise<Record<string, unknown> | null>;
}
