/**
 * The channels between the master and its workers. Master to worker: the
 * worker's stdin, one JSON object a line; its end (EOF) means the master is
 * gone, even after a SIGKILL. Worker to master: a unix socket in a private
 * folder of the master's, one JSON object a line.
 * @module
 */
import type { Address } from "./address.ts";
import type { AppSpec } from "./config/config.ts";
import type { Settings } from "./config/settings.ts";
import type { Ids } from "./runtime/types.ts";
import { sys, type UnixStream } from "./runtime/sys.ts";
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
  /** The first line of every connection: whose it is (lib/master/ipc_server.ts; not passed on). */
  | { readonly type: "hello"; readonly pid: number }
  /** `sharesWatchdog`: it mapped the boot message's `watchdogFile`, and sends no heartbeats. */
  | { readonly type: "ready"; readonly pid: number; readonly sharesWatchdog?: boolean }
  | { readonly type: "boot_error"; readonly pid: number; readonly code: number; readonly message: string }
  /** It reached --max-requests: replace it, then let it drain. */
  | { readonly type: "retire"; readonly pid: number; readonly requests: number }
  | Heartbeat;

/** A worker's end of the channel to the master (no `node:` module: see lib/runtime/sys.ts). */
export class IpcClient {
  readonly #stream: UnixStream;
  readonly #encoder = new TextEncoder();
  private constructor(stream: UnixStream) {
    this.#stream = stream;
  }

  /**
   * Connects to the master's socket and says whose the connection is
   * (the master keeps a worker's exit behind its messages by it).
   */
  static async connect(path: string, pid: number = sys.pid): Promise<IpcClient> {
    const client = new IpcClient(await sys.connectUnix(path));
    void client.send({ type: "hello", pid });
    return client;
  }

  /** Sends one message; resolves once it is handed to the kernel, or the master is gone. */
  send(message: WorkerMessage): Promise<void> {
    return this.#stream.write(this.#encoder.encode(JSON.stringify(message) + "\n")).catch(() => {});
  }

  /** Keeps the connection from holding the event loop open. */
  unref(): void {
    this.#stream.unref();
  }
}
