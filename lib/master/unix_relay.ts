/**
 * The unix socket relay: with several workers on `unix:PATH`, the master
 * accepts on the path and pipes each connection to one worker's own unix
 * socket in the master's private 0700 folder. Unix sockets have no
 * SO_REUSEPORT, and neither runtime can pass a listening socket to a
 * child, so this is the way to share one path.
 *
 * Only the master's user can enter that folder, so no other local user can
 * reach a worker and bypass the public socket's permissions (the relay once
 * went through a loopback TCP port that any local user could connect to,
 * and loopback is trusted for proxy headers by default). A worker sees
 * each relayed connection as a unix socket peer, as it would with `-w 1`.
 *
 * The master tells the relay which workers serve: a worker is sent new
 * connections once it is ready, none once it is stopping (its connections
 * in flight go on), and its socket is removed when it exits. Its cost is
 * measured in docs/BENCHMARKS.md.
 * @module
 */
import { rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { UnixAddress } from "../address.ts";

/** How long a client waits before trying again when every worker's queue was full. */
const RETRY_MS = 10;

interface _Worker {
  readonly age: number;
  readonly path: string;
  state: "booting" | "serving" | "stopping";
  /** Relayed connections open to it. */
  active: number;
}

/** One public unix socket, relayed to the workers' own sockets. */
export class UnixRelay {
  readonly address: UnixAddress;
  readonly #server: Server;
  readonly #dir: string;
  readonly #name: string;
  readonly #workers = new Map<number, _Worker>();
  /** Clients accepted while no worker served: relayed as soon as one does. */
  readonly #waiting = new Set<Socket>();
  readonly #sockets = new Set<Socket>();
  /** Where the round-robin among equally busy workers starts next. */
  #turn = 0;
  #closed = false;

  private constructor(address: UnixAddress, dir: string, name: string) {
    this.address = address;
    this.#dir = dir;
    this.#name = name;
    this.#server = createServer((client) => this.#accept(client));
  }

  /**
   * Listens on `address`; the workers' sockets go in `dir`, which must be
   * private to the master's user (0700), named after `name`.
   * @throws the listen error (the caller names the address).
   */
  static async open(address: UnixAddress, dir: string, name: string): Promise<UnixRelay> {
    const relay = new UnixRelay(address, dir, name);
    await new Promise<void>((resolve, reject) => {
      relay.#server.once("error", reject);
      relay.#server.listen(address.path, () => {
        relay.#server.off("error", reject);
        resolve();
      });
    });
    return relay;
  }

  /** The socket the worker of this age binds; it gets connections once {@link serving}. */
  workerAddress(age: number): UnixAddress {
    const path = join(this.#dir, `${this.#name}-${age}.sock`);
    this.#workers.set(age, { age, path, state: "booting", active: 0 });
    return { transport: "unix", path };
  }

  /** The worker is ready: it gets new connections, the waiting ones first. */
  serving(age: number): void {
    const worker = this.#workers.get(age);
    if (worker?.state !== "booting") return;
    worker.state = "serving";
    for (const client of this.#waiting) {
      this.#waiting.delete(client);
      this.#relay(client, 0);
    }
  }

  /** The worker is stopping: no new connection goes to it; those it has go on. */
  stopping(age: number): void {
    const worker = this.#workers.get(age);
    if (worker) worker.state = "stopping";
  }

  /** The worker is gone: its socket file is removed. */
  exited(age: number): void {
    const worker = this.#workers.get(age);
    if (!worker) return;
    this.#workers.delete(age);
    rmSync(worker.path, { force: true });
  }

  /** Every worker not of these ages is gone ({@link exited}). */
  forgetAllBut(ages: ReadonlySet<number>): void {
    for (const age of [...this.#workers.keys()]) if (!ages.has(age)) this.exited(age);
  }

  #accept(client: Socket): void {
    this.#sockets.add(client);
    client.on("close", () => {
      this.#sockets.delete(client);
      this.#waiting.delete(client);
    });
    client.on("error", () => client.destroy());
    client.setNoDelay(true);
    this.#relay(client, 0);
  }

  /** The serving worker with the fewest relayed connections; ties take turns. */
  #pick(): _Worker | undefined {
    const serving = [...this.#workers.values()].filter((w) => w.state === "serving");
    let best: _Worker | undefined;
    for (let i = 0; i < serving.length; i++) {
      const w = serving[(this.#turn + i) % serving.length] as _Worker;
      if (best === undefined || w.active < best.active) best = w;
    }
    this.#turn = (this.#turn + 1) % 1024;
    return best;
  }

  /**
   * Connects `client` to a worker and pipes both ways once connected (the
   * client's bytes wait in its socket until then). With no worker serving,
   * the client waits for one. A worker whose socket refuses has just died:
   * it gets no more connections. On another error (a full queue) the next
   * worker is tried; when every worker was, the client tries again shortly.
   */
  #relay(client: Socket, tries: number): void {
    if (client.destroyed) return;
    if (this.#closed) return void client.destroy();
    const worker = this.#pick();
    if (worker === undefined) {
      this.#waiting.add(client);
      return;
    }
    worker.active++;
    const upstream = createConnection(worker.path);
    const done = () => worker.active--;
    upstream.once("error", (err: Error & { code?: string }) => {
      done();
      // Refused or missing: nothing listens there any more. Anything else (a full queue, EAGAIN; the
      // master out of descriptors) may pass: the worker keeps its turn.
      const gone = err.code === "ECONNREFUSED" || err.code === "ENOENT";
      if (gone && worker.state === "serving") worker.state = "stopping";
      if (tries + 1 < this.#workers.size) this.#relay(client, tries + 1);
      else setTimeout(() => this.#relay(client, 0), RETRY_MS);
    });
    upstream.once("connect", () => {
      upstream.removeAllListeners("error");
      upstream.on("error", () => client.destroy());
      upstream.once("close", done);
      upstream.setNoDelay(true);
      this.#sockets.add(upstream);
      upstream.once("close", () => this.#sockets.delete(upstream));
      client.on("error", () => upstream.destroy());
      client.once("close", () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Stops accepting; connections in flight go on until their ends close, waiting ones are dropped. */
  close(): void {
    this.#closed = true;
    this.#server.close();
    for (const client of this.#waiting) client.destroy();
    this.#waiting.clear();
  }

  /** Drops every relayed connection. */
  destroy(): void {
    this.close();
    for (const s of this.#sockets) s.destroy();
  }
}
