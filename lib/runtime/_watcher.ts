/**
 * Watches the connections a server accepted, from the kernel's side, and
 * closes those that are idle (`--keep-alive`) or too slow to send their
 * request (`--header-timeout`, `--body-timeout`, `--min-upload-rate`):
 * neither Deno.serve nor Bun.serve gives a hook per connection (Deno 2.9's
 * has no timeouts; Bun's idleTimeout also cuts a slow response, so it is
 * off). A few times a second, synchronously: each descriptor of
 * /proc/self/fd whose local port is the server's is asked TCP_INFO
 * (runtime/_tcp_info.ts), and runtime/_exchange.ts judges it. Being
 * synchronous, no descriptor is closed and reused by the runtime between a
 * look and a shutdown. Closing is `shutdown(SHUT_RDWR)`: the runtime sees
 * the end of the stream and closes the connection as if the client had.
 * Linux only.
 * @module
 */
import { readdirSync } from "node:fs";
import type { LibcCalls } from "./_libc.ts";
import { type Exchange, isIdle, judge, overdue, type SlowLimits, track } from "./_exchange.ts";
import { peerKey, TCP_ESTABLISHED, type TcpInfo, TcpProbe } from "./_tcp_info.ts";
import type { ClosedConnections, InFlightRequests, ServeInfo, ServeSpec } from "./types.ts";

const SHUT_RDWR = 2;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const _408 = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);
/** A mark not matched to a connection within this long is dropped (the connection is gone). */
const MARK_TTL_MS = 10_000;

/** Peers of upgraded connections not yet matched to a descriptor, with when they were marked. */
const _marks = new Map<string, number>();

/**
 * Marks the connection from `hostname`:`port` as upgraded (a WebSocket):
 * never closed by a watcher. Matched to its descriptor at the next look;
 * false when the address cannot be read.
 */
export function markUpgraded(hostname: string, port: number): boolean {
  const key = peerKey(hostname, port);
  if (key === null) return false;
  _marks.set(key, performance.now());
  return true;
}

/** {@link markUpgraded} for the connection of the request whose handler got `info`. */
export function markInfoUpgraded(info: ServeInfo): void {
  const addr = info.remoteAddr;
  if (addr.transport === "tcp") markUpgraded(addr.hostname, addr.port);
}

/** What a watcher enforces. */
export interface WatchOptions {
  readonly port: number;
  /** The server speaks TLS: a 408 cannot be written on its sockets. */
  readonly tls: boolean;
  /** --keep-alive in milliseconds, or null. */
  readonly idleMs: number | null;
  /** The slow-client limits, or null. */
  readonly slow: SlowLimits | null;
  readonly inFlight?: InFlightRequests | undefined;
  readonly onClosed?: ((closed: ClosedConnections) => void) | undefined;
}

/** Mod_reqtimeout's MinRate: the default --min-upload-rate. */
const DEFAULT_MIN_RATE = 500;

/** What a server started with `spec` on `port` must watch, or null when nothing. */
export function watchOptions(spec: ServeSpec, port: number): WatchOptions | null {
  const ms = (seconds: number | undefined) => seconds ? seconds * 1000 : Infinity;
  const headerMs = ms(spec.headerTimeout);
  const bodyMs = ms(spec.bodyTimeout);
  const slow = headerMs === Infinity && bodyMs === Infinity
    ? null
    : { headerMs, bodyMs, minRate: spec.minUploadRate ?? DEFAULT_MIN_RATE };
  const idleMs = spec.idleTimeout ? spec.idleTimeout * 1000 : null;
  if (idleMs === null && slow === null) return null;
  return { port, tls: spec.tls !== null, idleMs, slow, inFlight: spec.inFlight, onClosed: spec.onClosed };
}

/** How often a watcher looks: a few times per timeout, between 250 ms and 1 s. */
export function watchInterval(options: Pick<WatchOptions, "idleMs" | "slow">): number {
  const shortest = Math.min(
    options.idleMs ?? Infinity,
    options.slow?.headerMs ?? Infinity,
    options.slow?.bodyMs ?? Infinity,
  );
  return Math.max(250, Math.min(1000, shortest / 4));
}

interface _Suspect {
  readonly fd: number;
  readonly ex: Exchange;
  readonly info: TcpInfo;
}

/** One server's watcher. */
export class ConnectionWatcher {
  readonly #libc: LibcCalls;
  readonly #probe: TcpProbe;
  readonly #options: WatchOptions;
  readonly #interval: number;
  readonly #exchanges = new Map<number, Exchange>();
  #lastLook = performance.now();

  /** `probe` is for tests: one whose clock runs ahead. */
  constructor(libc: LibcCalls, options: WatchOptions, probe = new TcpProbe(libc)) {
    this.#libc = libc;
    this.#probe = probe;
    this.#options = options;
    this.#interval = watchInterval(options);
  }

  /** Milliseconds between looks. */
  get interval(): number {
    return this.#interval;
  }

  /** Looks at every connection once, closes what must be; returns what was closed. */
  look(now = performance.now()): ClosedConnections {
    // Late: this loop was blocked, and so was the runtime's. Requests it has
    // read but not yet handed to the app would look like slow heads: judge
    // them at the next look.
    const late = now - this.#lastLook > 2 * this.#interval + 100;
    this.#lastLook = now;
    const { idleMs, slow } = this.#options;
    const busy = (this.#options.inFlight?.size ?? 0) > 0;
    const seen = new Set<number>();
    const suspects: _Suspect[] = [];
    let idle = 0;
    for (const name of readdirSync("/proc/self/fd")) {
      const fd = Number(name);
      // The listener has the port too: TCP_INFO tells it apart (its state is LISTEN).
      if (this.#probe.localPort(fd) !== this.#options.port) continue;
      const info = this.#probe.info(fd);
      const peer = info?.state === TCP_ESTABLISHED ? this.#probe.peer(fd) : null;
      if (info === null || peer === null) continue;
      const ex = track(this.#exchanges.get(fd), info, peer, now);
      this.#exchanges.set(fd, ex);
      seen.add(fd);
      if (!ex.upgraded && _marks.delete(peer)) ex.upgraded = true;
      if (ex.upgraded) continue;
      if (idleMs !== null && isIdle(info, idleMs, busy)) {
        if (this.#libc.shutdown(fd, SHUT_RDWR) === 0) idle++;
      } else if (slow !== null && !late && overdue(ex, info, now, slow)) {
        suspects.push({ fd, ex, info });
      }
    }
    for (const fd of this.#exchanges.keys()) if (!seen.has(fd)) this.#exchanges.delete(fd);
    for (const [peer, at] of _marks) if (now - at > MARK_TTL_MS) _marks.delete(peer);
    const closed = { idle, ...(suspects.length ? this.#judge(suspects, now) : _NONE) };
    if (closed.idle + closed.heads + closed.bodies > 0) this.#options.onClosed?.(closed);
    return closed;
  }

  /** The requests in flight by peer (null: one whose peer this cannot key, matched by port only). */
  #atApp(): { byPeer: Map<string, Request>; ports: Set<number> } {
    const byPeer = new Map<string, Request>();
    const ports = new Set<number>();
    this.#options.inFlight?.forEach((request, info) => {
      let addr;
      try {
        addr = info.remoteAddr;
      } catch {
        return; // answered meanwhile
      }
      if (addr.transport !== "tcp") return;
      const key = peerKey(addr.hostname, addr.port);
      if (key === null) ports.add(addr.port);
      else byPeer.set(key, request);
    });
    return { byPeer, ports };
  }

  /** Closes the suspects that are too slow, knowing which requests the app has. */
  #judge(suspects: _Suspect[], now: number): Omit<ClosedConnections, "idle"> {
    const { byPeer, ports } = this.#atApp();
    const slow = this.#options.slow as SlowLimits;
    let heads = 0, bodies = 0, answered = 0;
    for (const { fd, ex, info } of suspects) {
      const port = Number(ex.peer.slice(ex.peer.lastIndexOf("|") + 1));
      const request = byPeer.get(ex.peer) ?? (ports.has(port) ? null : undefined);
      const verdict = judge(ex, info, now, slow, request, this.#options.tls);
      // Bytes waiting unread: the worker is behind, not the client.
      if (verdict === null || this.#probe.unread(fd) > 0) continue;
      // A 408 only where nothing of an answer can be on its way: plain HTTP,
      // data received, and the app never had the request or still holds it.
      const answer = !this.#options.tls && info.bytesReceived > ex.base && (!ex.atApp || request != null);
      if (answer && this.#libc.send(fd, _408, _408.length, MSG_DONTWAIT | MSG_NOSIGNAL) === _408.length) {
        answered++;
      }
      if (this.#libc.shutdown(fd, SHUT_RDWR) !== 0) continue;
      if (verdict === "head") heads++;
      else bodies++;
    }
    return { heads, bodies, answered };
  }
}

const _NONE = { heads: 0, bodies: 0, answered: 0 } as const;

/**
 * Watches the connections accepted on `options.port` (see the module doc);
 * returns the function that stops it.
 */
export function startConnectionWatcher(libc: LibcCalls, options: WatchOptions): () => void {
  const watcher = new ConnectionWatcher(libc, options);
  const timer = setInterval(() => {
    try {
      watcher.look();
    } catch { /* /proc unreadable for a moment: next time */ }
  }, watcher.interval);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
