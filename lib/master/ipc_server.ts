/**
 * The master's end of the workers' channel (lib/ipc.ts): a unix socket in
 * the master's private folder, one JSON object a line.
 *
 * It also keeps a worker's exit behind its messages. A worker that says
 * `ready` and dies at once leaves the master two events, its message and
 * its exit, and both runtimes may report the exit first: the master would
 * then judge a worker that had served as one that never booted (and halt
 * on the first start). A connection is known by the pid in its first line
 * (IpcClient sends a hello at once); {@link ended} tells when a pid's
 * connections have closed, which the kernel does at the process's death,
 * after every byte it wrote: the messages are read by then.
 * @module
 */
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { WorkerMessage } from "../ipc.ts";

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

/** How long {@link IpcServer.ended} waits at most for a pid's connections to close (a descendant may hold one). */
export const IPC_END_WAIT_MS = 1000;
/** How long it waits for the first line of a pid it has not heard from (the worker may have died unconnected). */
export const IPC_HELLO_WAIT_MS = 250;

/** The master's end: a socket in the master's private (0700) folder. */
export class IpcServer {
  readonly path: string;
  readonly #server: Server;
  /** Open connections by the pid of their first line (0: all closed), until {@link ended} has told. */
  readonly #open = new Map<number, number>();
  /** Called whenever a connection is known or closes. */
  readonly #waiters = new Set<() => void>();
  #closed = false;

  private constructor(dir: string, server: Server) {
    this.path = join(dir, "master.sock");
    this.#server = server;
  }

  /** Opens the socket in `dir`; `onMessage` gets every message of every worker (not their hellos). */
  static async open(dir: string, onMessage: (message: WorkerMessage) => void): Promise<IpcServer> {
    const server = createServer();
    const ipc = new IpcServer(dir, server);
    server.on("connection", (socket: Socket) => ipc.#accept(socket, onMessage));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ipc.path, () => resolve());
    });
    return ipc;
  }

  #accept(socket: Socket, onMessage: (message: WorkerMessage) => void): void {
    let pid: number | null = null;
    socket.on("error", () => {});
    socket.on("close", () => {
      if (pid === null) return;
      this.#open.set(pid, (this.#open.get(pid) ?? 1) - 1);
      this.#changed();
    });
    _readLines(socket, (line) => {
      let message: WorkerMessage;
      try {
        message = JSON.parse(line) as WorkerMessage;
      } catch {
        return; // not ours: ignored
      }
      if (pid === null && typeof message?.pid === "number") {
        pid = message.pid;
        this.#open.set(pid, (this.#open.get(pid) ?? 0) + 1);
        this.#changed();
      }
      if (message?.type !== "hello") onMessage(message);
    });
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves once every connection of `pid` has closed, so that every
   * line it sent has gone to `onMessage`: called when the process has
   * exited. A pid not heard from is waited for `helloMs` (its connection
   * may wait to be accepted, or it died before it connected); the whole
   * wait lasts `maxMs` at most.
   */
  ended(pid: number, helloMs = IPC_HELLO_WAIT_MS, maxMs = IPC_END_WAIT_MS): Promise<void> {
    return new Promise((resolve) => {
      const timers: ReturnType<typeof setTimeout>[] = [];
      const finish = () => {
        for (const timer of timers) clearTimeout(timer);
        this.#waiters.delete(check);
        if (this.#open.get(pid) === 0) this.#open.delete(pid);
        resolve();
      };
      const check = () => {
        if (this.#closed || this.#open.get(pid) === 0) finish();
      };
      timers.push(setTimeout(finish, maxMs), setTimeout(() => this.#open.has(pid) || finish(), helloMs));
      this.#waiters.add(check);
      check();
    });
  }

  /** Closes the socket and removes its file; a wait in {@link ended} is over. */
  close(): void {
    this.#server.close();
    rmSync(this.path, { force: true });
    this.#closed = true;
    this.#changed();
  }
}
