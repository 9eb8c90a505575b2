/**
 * The master's checks of every --bind address before a worker is spawned,
 * and what each worker binds. Workers bind the addresses themselves; the
 * master only probes them (so a busy port fails fast with a clear message)
 * and, for unix sockets with several workers, relays connections
 * (unix_relay.ts).
 * @module
 */
import { existsSync, lstatSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { createConnection, createServer, type Server } from "node:net";
import { platform } from "node:os";
import { type Address, formatAddress, type TcpAddress, type UnixAddress } from "../address.ts";
import { BootError, UsageError } from "../errors.ts";
import { tcpMigrateReq } from "../runtime/_sockets.ts";
import type { WorkerBoot } from "../ipc.ts";
import type { Settings } from "../config/settings.ts";
import type { ActivatedSocket } from "./activation.ts";
import type { WorkerRecord } from "./pool.ts";
import { UnixLink } from "./unix_link.ts";
import { UnixRelay } from "./unix_relay.ts";

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
  let stat;
  try {
    stat = lstatSync(address.path);
  } catch {
    return; // nothing there
  }
  // A link is what a -w 1 corral leaves (lib/master/unix_link.ts): judged by the socket it leads to.
  if (!stat.isSocket() && !stat.isSymbolicLink()) {
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

/** What one worker binds: a public address, or the relay whose worker socket it binds. */
type _Listen =
  | WorkerBoot["listen"][number]
  | { readonly relay: UnixRelay }
  | { readonly link: UnixLink };

/**
 * The master's view of the listeners: probes, relays, and what workers
 * bind. The arbiter keeps the relays told which workers serve
 * ({@link track}).
 */
export class Listeners {
  readonly public: Address[] = [];
  /** The descriptors of systemd's sockets, which every worker inherits. */
  readonly activated: number[] = [];
  readonly relays: UnixRelay[] = [];
  /** `-w 1` unix binds: a link to the serving worker's own socket. */
  readonly links: UnixLink[] = [];
  readonly #listen: _Listen[] = [];
  readonly #tls: boolean;
  /** The master's private folder (0700): the relays' worker sockets go there. */
  readonly #dir: string;

  private constructor(tls: boolean, dir: string) {
    this.#tls = tls;
    this.#dir = dir;
  }

  /**
   * Checks every address and prepares what each worker binds; `dir` is
   * the master's private folder, where workers behind a relay listen.
   * @throws {BootError} naming the first address that cannot be used.
   */
  static async prepare(
    bind: readonly Address[],
    tls: boolean,
    workers: number,
    upgrading: boolean,
    dir: string,
    activated: readonly ActivatedSocket[] = [],
  ): Promise<Listeners> {
    const l = new Listeners(tls, dir);
    if (activated.length > 0) {
      // systemd's sockets replace --bind, as in Gunicorn: every worker serves them all.
      for (const { fd, address } of activated) {
        l.public.push(address);
        l.activated.push(fd);
        l.#listen.push({ address, reusePort: false, tls: tls && address.transport === "tcp", fd });
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
          l.#listen.push({ address: resolved, reusePort: true, tls });
          continue;
        }
        l.public.push(address);
        if (workers === 1) {
          // Upgrading, the old master's link stays until our worker serves and takes it over.
          if (!upgrading) await clearUnixPath(address);
          const link = new UnixLink(address);
          l.links.push(link);
          l.#listen.push({ link });
          continue;
        }
        // Upgrading: the old master's socket is live; ours takes the path over
        // and the old one drains the connections it already has.
        if (upgrading) rmSync(address.path, { force: true });
        else await clearUnixPath(address);
        l.#listen.push({ relay: await l.#openRelay(address) });
      }
    } catch (err) {
      l.close();
      throw err;
    }
    return l;
  }

  async #openRelay(address: UnixAddress): Promise<UnixRelay> {
    try {
      const relay = await UnixRelay.open(address, this.#dir, `relay${this.relays.length}`);
      this.relays.push(relay);
      return relay;
    } catch (err) {
      throw _bindFailure(address, false, err);
    }
  }

  /** What the worker of this age binds: the public addresses, and its own socket for each relay. */
  forWorker(age: number): WorkerBoot["listen"] {
    return this.#listen.map((l) => {
      if ("relay" in l) return { address: l.relay.workerAddress(age), reusePort: false, tls: false };
      if ("link" in l) return { address: l.link.workerAddress(age), reusePort: false, tls: false };
      return l;
    });
  }

  /**
   * Why `n` workers cannot share these addresses, or null: a unix socket
   * bound with `-w 1` has no relay behind it to spread connections.
   */
  refusesWorkers(n: number): string | null {
    if (n <= 1 || this.links.length === 0) return null;
    const where = this.links.map((l) => formatAddress(l.address)).join(", ");
    return `Keeping 1 worker: ${where} was bound with -w 1 and has no relay to spread connections over ` +
      `${n} workers; start with -w 2 or more to scale it`;
  }

  /**
   * Tells the relays where each worker is: one that serves (serving or
   * outgoing: it serves until its replacement does) gets new connections;
   * one booting, retiring or exited gets none, its connections in flight
   * going on; one no longer in `workers` is forgotten, its socket removed.
   */
  track(workers: readonly Pick<WorkerRecord, "age" | "state" | "exited">[]): void {
    for (const link of this.links) link.track(workers);
    if (this.relays.length === 0) return;
    const ages = new Set<number>();
    for (const w of workers) {
      ages.add(w.age);
      const serves = !w.exited && (w.state === "serving" || w.state === "outgoing");
      for (const r of this.relays) {
        if (serves) r.serving(w.age);
        else if (w.state !== "booting" || w.exited) r.stopping(w.age);
      }
    }
    for (const r of this.relays) r.forgetAllBut(ages);
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
    // A link is removed only while it is still ours (a new master's replaced it after USR2).
    for (const link of this.links) link.close();
    if (!removeUnixPaths || this.activated.length > 0) return;
    for (const r of this.relays) rmSync(r.address.path, { force: true });
  }
}
