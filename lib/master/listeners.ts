/**
 * The master's checks of every --bind address before a worker is spawned,
 * and the unix socket relay. Workers bind the addresses themselves; the
 * master only probes them (so a busy port fails fast with a clear message)
 * and, for unix sockets with several workers, relays connections.
 * @module
 */
import { existsSync, lstatSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { type Address, formatAddress, type TcpAddress, type UnixAddress } from "../address.ts";
import { BootError, UsageError } from "../errors.ts";
import { platform } from "node:os";
import { tcpMigrateReq } from "../runtime/_sockets.ts";
import type { WorkerBoot } from "../ipc.ts";
import type { Settings } from "../config/settings.ts";
import type { ActivatedSocket } from "./activation.ts";

const _REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "address not available on this machine",
  // Deno's node:net reports an address of no local interface as EINVAL.
  EINVAL: "address not available on this machine",
  ENOTFOUND: "unknown host name",
  ENOENT: "no such folder",
  EAI_NONAME: "unknown host name",
};

function _bindFailure(address: Address, tls: boolean, err: unknown): BootError {
  const code = (err as { code?: string }).code ?? "";
  const reason = _REASONS[code] ?? String((err as Error).message ?? err);
  return new BootError(`Cannot bind "${formatAddress(address, tls)}": ${reason}`, { cause: err });
}

function _listen(server: Server, options: { host: string; port: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * Binds a TCP address without SO_REUSEPORT and closes it again. This fails
 * when any other socket holds the port, including another corral's
 * reuse-port workers. Port 0 is resolved to a free port here, so that all
 * workers then share the same one.
 */
export async function probeTcp(address: TcpAddress, tls: boolean): Promise<TcpAddress> {
  const server = createServer();
  try {
    await _listen(server, { host: address.hostname, port: address.port });
  } catch (err) {
    throw _bindFailure(address, tls, err);
  }
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : address.port;
  await new Promise((resolve) => server.close(resolve));
  return { ...address, port };
}

function _connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Removes a stale socket file; refuses a live one, a file that is no
 * socket, and a path whose folder does not exist (the runtimes' own errors
 * then say only "Failed to listen").
 */
export async function clearUnixPath(address: UnixAddress): Promise<void> {
  const folder = dirname(address.path);
  if (!existsSync(folder)) {
    throw new BootError(`Cannot bind "${formatAddress(address)}": the folder "${folder}" does not exist`);
  }
  if (!existsSync(address.path)) return;
  if (!lstatSync(address.path).isSocket()) {
    throw new BootError(`Cannot bind "${formatAddress(address)}": the path exists and is not a socket`);
  }
  if (await _connects(address.path)) {
    throw new BootError(
      `Cannot bind "${formatAddress(address)}": address already in use (a server answers there)`,
    );
  }
  rmSync(address.path, { force: true });
}

/**
 * Listens on a unix socket and pipes each connection to the workers'
 * shared loopback port, where SO_REUSEPORT spreads them. Unix sockets
 * have no SO_REUSEPORT, and neither runtime can pass a listening socket
 * to a child, so with several workers this relay is the way to share one
 * path. Its cost is measured in docs/BENCHMARKS.md.
 */
export class UnixRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly address: UnixAddress;
  readonly target: TcpAddress;

  private constructor(address: UnixAddress, target: TcpAddress) {
    this.address = address;
    this.target = target;
    this.#server = createServer((client) => this.#relay(client));
  }

  #relay(client: Socket): void {
    const upstream = createConnection({ host: this.target.hostname, port: this.target.port });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
      s.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  }

  /** Opens the unix socket; workers listen on an internal loopback port. */
  static async open(address: UnixAddress): Promise<UnixRelay> {
    const target = await probeTcp({ transport: "tcp", hostname: "127.0.0.1", port: 0 }, false);
    const relay = new UnixRelay(address, target);
    try {
      await _listen(relay.#server, { path: address.path });
    } catch (err) {
      throw _bindFailure(address, false, err);
    }
    return relay;
  }

  /** Stops accepting; connections in flight go on until their ends close. */
  close(): void {
    this.#server.close();
  }

  /** Drops every relayed connection. */
  destroy(): void {
    this.close();
    for (const s of this.#sockets) s.destroy();
  }
}

/**
 * Refuses what cannot work on this OS: off Linux, SO_REUSEPORT does not
 * spread connections between processes, so several workers on one TCP port
 * would not share the load (or would fail with "address in use").
 * @throws {UsageError}
 */
export function checkPlatform(settings: Pick<Settings, "workers" | "bind">): void {
  if (platform() === "linux" || settings.workers <= 1) return;
  if (!settings.bind.some((a) => a.transport === "tcp")) return;
  throw new UsageError(
    `Invalid value for -w/--workers: "${settings.workers}": on ${platform()}, SO_REUSEPORT does not ` +
      "spread connections between processes; run -w 1 per port (see README: Platforms)",
  );
}

/** The start-up warning when workers will be recycled and queued connections would be reset. */
export function migrateWarning(settings: Pick<Settings, "maxRequests" | "maxWorkerMemory">): string | null {
  if (settings.maxRequests <= 0 && settings.maxWorkerMemory <= 0) return null;
  if (tcpMigrateReq() !== 0) return null;
  return "Workers will be recycled but net.ipv4.tcp_migrate_req is 0: connections queued on a closing " +
    "worker are reset. Set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1); see docs/RELIABILITY.md";
}

/**
 * The warning to give at start when the settings ask for what this process
 * cannot enforce: the connection watcher (runtime/_watcher.ts) needs Linux,
 * and on Deno --allow-ffi and reading /proc. `problem` is the runtime's
 * reason, or null when it can.
 */
export function connectionWatchWarning(
  settings: Pick<Settings, "keepAlive" | "headerTimeout" | "bodyTimeout">,
  problem: string | null,
): string | null {
  if (problem === null) return null;
  const asked = [
    settings.keepAlive > 0 ? "--keep-alive" : "",
    settings.headerTimeout > 0 ? "--header-timeout" : "",
    settings.bodyTimeout > 0 ? "--body-timeout" : "",
  ].filter((flag) => flag !== "");
  if (asked.length === 0) return null;
  return `${asked.join(", ")} cannot be enforced: ${problem}. Idle and slow clients keep their connections ` +
    "until they close them; see docs/SECURITY.md";
}

/** The master's view of the listeners: probes, relays, and what workers bind. */
export class Listeners {
  readonly public: Address[] = [];
  /** The descriptors of systemd's sockets, which every worker inherits. */
  readonly activated: number[] = [];
  readonly relays: UnixRelay[] = [];
  readonly forWorkers: WorkerBoot["listen"][number][] = [];
  readonly #tls: boolean;

  private constructor(tls: boolean) {
    this.#tls = tls;
  }

  /**
   * Checks every address and prepares what each worker binds.
   * @throws {BootError} naming the first address that cannot be used.
   */
  static async prepare(
    bind: readonly Address[],
    tls: boolean,
    workers: number,
    upgrading = false,
    activated: readonly ActivatedSocket[] = [],
  ): Promise<Listeners> {
    const l = new Listeners(tls);
    if (activated.length > 0) {
      // systemd's sockets replace --bind, as in Gunicorn: every worker serves them all.
      for (const { fd, address } of activated) {
        l.public.push(address);
        l.activated.push(fd);
        l.forWorkers.push({ address, reusePort: false, tls: tls && address.transport === "tcp", fd });
      }
      return l;
    }
    try {
      for (const address of bind) {
        if (address.transport === "tcp") {
          // During a USR2 upgrade the old master's workers hold the ports:
          // ours join them through SO_REUSEPORT.
          const resolved = upgrading ? address : await probeTcp(address, tls);
          l.public.push(resolved);
          l.forWorkers.push({ address: resolved, reusePort: true, tls });
          continue;
        }
        // Upgrading: the old master's socket is live; ours takes the path over
        // and the old one drains the connections it already has.
        if (upgrading) rmSync(address.path, { force: true });
        else await clearUnixPath(address);
        l.public.push(address);
        if (workers === 1) {
          l.forWorkers.push({ address, reusePort: false, tls: false });
        } else {
          const relay = await UnixRelay.open(address);
          l.relays.push(relay);
          l.forWorkers.push({ address: relay.target, reusePort: true, tls: false });
        }
      }
    } catch (err) {
      l.close();
      throw err;
    }
    return l;
  }

  /** Addresses as the start-up log shows them. */
  describe(): string[] {
    return this.public.map((a, i) => {
      const where = formatAddress(a, this.#tls && a.transport === "tcp");
      const fd = this.activated[i];
      return fd === undefined ? where : `${where} (systemd's socket, fd ${fd})`;
    });
  }

  /**
   * Closes the relays and (unless a new master now owns them, or they are
   * systemd's) removes unix socket files.
   */
  close(removeUnixPaths = true): void {
    for (const r of this.relays) r.destroy();
    if (!removeUnixPaths || this.activated.length > 0) return;
    for (const a of this.public) if (a.transport === "unix") rmSync(a.path, { force: true });
  }
}
