/**
 * The channels between the master and its workers. Master to worker: the
 * worker's stdin, one JSON object a line; its end (EOF) means the master is
 * gone, even after a SIGKILL. Worker to master: a unix socket in a private
 * folder of the master's, one JSON object a line.
 * @module
 */
import { rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Address } from "./address.ts";
import type { AppSpec } from "./config/config.ts";
import type { Settings } from "./config/settings.ts";
import type { Ids } from "./runtime/types.ts";
import type { Counters, InFlight } from "./watchdog_buffer.ts";

/** The argument that makes corral's entry run as a worker. */
export const WORKER_FLAG = "--corral-worker";

/** Everything a worker needs to boot, sent as the first line of its stdin. */
export interface WorkerBoot {
  readonly type: "boot";
  readonly settings: Settings;
  readonly app: AppSpec;
  /** Where this worker listens: the public addresses, or internal ones behind a relay. */
  readonly listen: readonly {
    readonly address: Address;
    readonly reusePort: boolean;
    readonly tls: boolean;
    /** A socket systemd passed (LISTEN_FDS), shared by every worker, at this descriptor. */
    readonly fd?: number;
  }[];
  /** The ids the worker switches to once it has bound (--user), or null to stay. */
  readonly ids: Ids | null;
  /** The master's socket for {@link WorkerMessage}s. */
  readonly ipcPath: string;
  /**
   * Where the worker maps its watchdog for the master to read, when the
   * master can (lib/master/watchdog_files.ts); null: heartbeats come from
   * the worker's thread instead.
   */
  readonly watchdogFile: string | null;
  /** Spawn order, 1-based. */
  readonly age: number;
}

/** A worker's periodic report: sent by its heartbeat thread, or read by the master from its watchdog file. */
export interface Heartbeat extends Counters {
  readonly type: "heartbeat";
  readonly pid: number;
  /** Milliseconds since the worker's main loop last ran. */
  readonly loopLagMs: number;
  /** The oldest requests in flight. */
  readonly inFlight: readonly InFlight[];
  /** Requests in flight beyond those listed. */
  readonly overflow: number;
  /** Resident memory of the worker process, in bytes. */
  readonly rss: number;
}

/** What a worker tells the master. */
export type WorkerMessage =
  /** `sharesWatchdog`: it mapped the boot message's `watchdogFile`, and sends no heartbeats. */
  | { readonly type: "ready"; readonly pid: number; readonly sharesWatchdog?: boolean }
  | { readonly type: "boot_error"; readonly pid: number; readonly code: number; readonly message: string }
  /** It reached --max-requests: replace it, then let it drain. */
  | { readonly type: "retire"; readonly pid: number; readonly requests: number }
  | Heartbeat;

function _readLines(socket: Socket, onLine: (line: string) => void): void {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
}

/** The master's end: a socket in the master's private (0700) folder. */
export class IpcServer {
  readonly path: string;
  readonly #server: Server;

  private constructor(dir: string, server: Server) {
    this.path = join(dir, "master.sock");
    this.#server = server;
  }

  /** Opens the socket in `dir`; `onMessage` gets every message of every worker. */
  static async open(dir: string, onMessage: (message: WorkerMessage) => void): Promise<IpcServer> {
    const server = createServer((socket) => {
      socket.on("error", () => {});
      _readLines(socket, (line) => {
        try {
          onMessage(JSON.parse(line) as WorkerMessage);
        } catch { /* not ours: ignore */ }
      });
    });
    const ipc = new IpcServer(dir, server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ipc.path, () => resolve());
    });
    return ipc;
  }

  /** Closes the socket and removes its file. */
  close(): void {
    this.#server.close();
    rmSync(this.path, { force: true });
  }
}

/** A worker's end of the channel to the master. */
export class IpcClient {
  readonly #socket: Socket;
  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Connects to the master's socket. */
  static connect(path: string): Promise<IpcClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path, () => {
        socket.off("error", reject);
        socket.on("error", () => {});
        resolve(new IpcClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Sends one message; resolves once it is handed to the kernel. */
  send(message: WorkerMessage): Promise<void> {
    return new Promise((resolve) => this.#socket.write(JSON.stringify(message) + "\n", () => resolve()));
  }

  /** Keeps the connection from holding the event loop open. */
  unref(): void {
    this.#socket.unref();
  }
}
