/**
 * Watches the connections this process's servers accepted, from the
 * kernel's side, and closes those that are idle (`--keep-alive`) or too
 * slow to send their request (`--header-timeout`, `--body-timeout`,
 * `--min-upload-rate`): neither Deno.serve nor Bun.serve gives a hook per
 * connection (Deno 2.9's has no timeouts; Bun's idleTimeout also cuts a
 * slow response, so it is off). Linux only.
 *
 * One watcher a process, for all its servers: a few times a second it
 * asks each descriptor TCP_INFO (runtime/_tcp_info.ts; the descriptors
 * probed by number, and listed from /proc/self/fd every tenth look), and
 * runtime/_exchange.ts judges. A connection first seen costs three calls
 * (TCP_INFO, its local port, its peer), then one a look, three again when
 * its counters or times say it may be another connection on the same
 * descriptor (`sameConnection`): then its peer decides. The work is cut in
 * slices of a millisecond, each run synchronously, with the event loop
 * served between them: under 2,000 connections a look never holds the loop
 * for long, and within a slice no descriptor can be closed and reused by
 * the runtime between a look and a shutdown. Before closing, the port and the peer are checked again: a
 * descriptor reused by another connection (even the app's own, outgoing)
 * is never closed for the one that had it. Closing is
 * `shutdown(SHUT_RDWR)`: the runtime sees the end of the stream and closes
 * the connection as if the client had.
 *
 * An answered connection that looks idle is closed only at the look after
 * the one that found it so (and found nothing of its own at the app), if no
 * data moved meanwhile: an answer the app had returned by then, that the
 * runtime had not yet written (it writes on its next turn of the event
 * loop), has been written since. It is found a look ahead, so it is closed
 * on time.
 * @module
 */
import { sys, type Timer } from "./sys.ts";
import type { LibcCalls } from "./_libc.ts";
import {
  countersBack,
  type Exchange,
  isIdle,
  judge,
  newExchange,
  overdue,
  sameConnection,
  type SlowLimits,
  track,
} from "./_exchange.ts";
import { peerKey, TCP_ESTABLISHED, type TcpInfo, TcpProbe } from "./_tcp_info.ts";
import { requestOf, requestsAtApp, type RequestsByPeer } from "./_requests_by_peer.ts";
import type { ClosedConnections, InFlightRequests, ServeSpec } from "./types.ts";
import { MSG_DONTWAIT, MSG_NOSIGNAL, SHUT_RDWR } from "./_linux.ts";

const _408 = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);
/** A mark not matched to a connection within this long is dropped (the connection is gone). */
const MARK_TTL_MS = 10_000;
/** Milliseconds of work in one piece, before the event loop is served. */
const SLICE_MS = 1;
/**
 * Every this many looks the descriptors are listed from /proc/self/fd (a
 * few milliseconds in one piece for 2,000); in between they are probed by
 * number, in slices, up to the highest known and on while new ones come:
 * the kernel gives a new descriptor the lowest free number, so new
 * connections sit in the holes or just above.
 */
const LIST_EVERY = 10;
/** Probing stops past this many numbers in a row that are not open, above the highest known. */
const CLOSED_RUN = 64;
/** Mod_reqtimeout's MinRate: the default --min-upload-rate. */
const DEFAULT_MIN_RATE = 500;

/** Peers of upgraded connections not yet matched to a descriptor, with when they were marked. */
const _marks = new Map<string, number>();

/**
 * Marks the connection from `hostname`:`port` as upgraded (a WebSocket):
 * never closed by the watcher. Matched to its descriptor at the next look;
 * false when the address cannot be read.
 */
export function markUpgraded(hostname: string, port: number): boolean {
  const key = peerKey(hostname, port);
  if (key === null) return false;
  _marks.set(key, performance.now());
  return true;
}

/** What the watcher enforces on one server's connections. */
export interface WatchOptions {
  readonly port: number;
  /** The server speaks TLS: a 408 cannot be written on its sockets. */
  readonly tls: boolean;
  /** --keep-alive in milliseconds, or null. */
  readonly idleMs: number | null;
  /** The slow-client limits, or null. */
  readonly slow: SlowLimits | null;
  readonly inFlight?: InFlightRequests | undefined;
  /**
   * Responses this process's servers are still sending on connections they
   * do not name (Bun: see runtime/bun.ts). While there are more than the
   * connections seen with bytes still going out (a client that stopped
   * reading), no connection whose last event was an answer is closed as
   * idle, since it may be a paused stream's. Absent where `inFlight` keeps
   * each request until its response is sent.
   */
  readonly sending?: (() => number) | undefined;
  readonly onClosed?: ((closed: ClosedConnections) => void) | undefined;
}

/** What a server started with `spec` on `port` must have watched, or null when nothing. */
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

/** How often to look: a few times per timeout, between 250 ms and 1 s. */
export function watchInterval(options: Pick<WatchOptions, "idleMs" | "slow">): number {
  const shortest = Math.min(
    options.idleMs ?? Infinity,
    options.slow?.headerMs ?? Infinity,
    options.slow?.bodyMs ?? Infinity,
  );
  return Math.max(250, Math.min(1000, shortest / 4));
}

type _Counts = { idle: number; heads: number; bodies: number; answered: number };

/** One look's totals by server, and the connections that looked idle while requests were in flight. */
interface _Look {
  readonly perServer: Map<WatchOptions, _Counts>;
  readonly idle: { readonly ex: Exchange; readonly server: WatchOptions }[];
  /** Connections seen with bytes not yet sent or acknowledged: responses going out where the kernel shows it. */
  sendingSeen: number;
}

interface _Suspect {
  readonly fd: number;
  readonly ex: Exchange;
  readonly info: TcpInfo;
  readonly server: WatchOptions;
}

/** The watcher of a process's servers. */
export class ConnectionWatcher {
  readonly #libc: LibcCalls;
  readonly #probe: TcpProbe;
  readonly #servers = new Map<number, WatchOptions>();
  readonly #exchanges = new Map<number, Exchange>();
  /** Looks so far, and the highest open descriptor the last one found. */
  #looks = 0;
  #top = -1;

  /** `probe` is for tests: one whose clock runs ahead. */
  constructor(libc: LibcCalls, probe = new TcpProbe(libc)) {
    this.#libc = libc;
    this.#probe = probe;
  }

  /** Watches a server's connections; returns the function that stops it. */
  add(options: WatchOptions): () => void {
    this.#servers.set(options.port, options);
    return () => {
      if (this.#servers.get(options.port) === options) this.#servers.delete(options.port);
    };
  }

  /** No server left to watch. */
  get empty(): boolean {
    return this.#servers.size === 0;
  }

  /** Milliseconds between looks: the shortest of the servers'. */
  get interval(): number {
    return Math.min(...[...this.#servers.values()].map(watchInterval));
  }

  /**
   * Looks at every connection once and closes what must be; resolves with
   * the totals. `late`: the look comes late (this loop was blocked, and so
   * was the runtime's, which may not yet have handed the app the requests
   * it read meanwhile): idle connections are closed, slow ones judged at
   * the next look. `ahead` (tests) moves this clock forward.
   */
  async look(late = false, ahead = 0): Promise<ClosedConnections> {
    const perServer = new Map<WatchOptions, _Counts>();
    const look: _Look = { perServer, idle: [], sendingSeen: 0 };
    const listed = this.#looks++ % LIST_EVERY === 0 ? sys.readDir("/proc/self/fd").map(Number) : null;
    // Probing: up to the highest known, and on while new ones come (see LIST_EVERY).
    const known = this.#top;
    let index = 0;
    this.#top = -1;
    const next = listed
      ? () => listed[index++] ?? null
      : () => index <= known || index - this.#top <= CLOSED_RUN ? index++ : null;
    while (this.#slice(next, performance.now() + ahead, late, look)) await _yield();
    this.#markIdle(look);
    if (listed) {
      const open = new Set(listed);
      for (const fd of this.#exchanges.keys()) if (!open.has(fd)) this.#exchanges.delete(fd);
    }
    const now = performance.now();
    for (const [peer, at] of _marks) if (now - at > MARK_TTL_MS) _marks.delete(peer);
    const totals: _Counts = { idle: 0, heads: 0, bodies: 0, answered: 0 };
    for (const [server, counts] of perServer) {
      for (const key of ["idle", "heads", "bodies", "answered"] as const) totals[key] += counts[key];
      if (counts.idle + counts.heads + counts.bodies > 0) server.onClosed?.(counts);
    }
    return totals;
  }

  /** The connection on `fd` as it is now, followed from the last look; null when not one of ours. */
  #follow(fd: number, now: number): { ex: Exchange; info: TcpInfo; server: WatchOptions } | null {
    const info = this.#probe.info(fd);
    if (info === null || info.state !== TCP_ESTABLISHED) {
      this.#exchanges.delete(fd);
      return null;
    }
    let ex = this.#exchanges.get(fd);
    if (ex !== undefined && sameConnection(ex, info, now)) track(ex, info, now);
    else {
      const port = this.#probe.localPort(fd);
      const peer = port !== null && this.#servers.has(port) ? this.#probe.peer(fd) : null;
      if (port === null || peer === null) {
        this.#exchanges.delete(fd);
        return null;
      }
      // The same connection after all (its clock read late, say): a WebSocket stays one.
      if (ex?.port === port && ex.peer === peer && !countersBack(ex, info)) track(ex, info, now);
      else this.#exchanges.set(fd, ex = newExchange(info, port, peer, now));
    }
    const server = this.#servers.get(ex.port);
    return server === undefined ? null : { ex, info, server };
  }

  /** Whether `fd` still is the connection `ex` followed (checked before closing it); forgets it if not. */
  #still(fd: number, ex: Exchange): boolean {
    if (this.#probe.localPort(fd) === ex.port && this.#probe.peer(fd) === ex.peer) return true;
    this.#exchanges.delete(fd);
    return false;
  }

  /**
   * Looks at the descriptors `next` gives, synchronously, for about
   * {@link SLICE_MS}; closes or marks the idle (see {@link #keepAlive}),
   * then judges the suspects. Returns whether there are more to look at.
   */
  #slice(next: () => number | null, now: number, late: boolean, look: _Look): boolean {
    const suspects: _Suspect[] = [];
    const until = performance.now() + SLICE_MS;
    let fd: number | null = null;
    while (performance.now() < until && (fd = next()) !== null) {
      const followed = this.#follow(fd, now);
      if (!this.#probe.closed) this.#top = Math.max(this.#top, fd);
      if (followed === null) continue;
      const { ex, info, server } = followed;
      if (info.sending) look.sendingSeen++;
      if (!ex.upgraded && _marks.delete(ex.peer)) ex.upgraded = true;
      if (ex.upgraded) continue;
      if (server.idleMs !== null && this.#keepAlive(fd, ex, info, server, look)) continue;
      if (server.slow !== null && !late && overdue(ex, info, now, server.slow)) {
        suspects.push({ fd, ex, info, server });
      }
    }
    if (suspects.length > 0) this.#judge(suspects, now, look.perServer, requestsAtApp());
    return fd !== null;
  }

  /**
   * `--keep-alive` on one connection; false when it does not wait for its
   * client. One that never received a byte is closed once idle (nothing can
   * be owed on it); an answered one is marked idle a look ahead of its time
   * (at once when nothing is in flight, else by {@link #markIdle}), and
   * closed at a later look once idle, if it is still marked: no data moved.
   */
  #keepAlive(fd: number, ex: Exchange, info: TcpInfo, server: WatchOptions, look: _Look): boolean {
    const idleMs = server.idleMs as number;
    if (!info.everReceived || ex.idle) {
      if (!isIdle(info, idleMs)) return ex.idle;
      this.#shut(fd, ex, server, look.perServer);
      return true;
    }
    if (!isIdle(info, Math.max(0, idleMs - watchInterval(server)))) return false;
    if (_busy(server)) look.idle.push({ ex, server });
    else ex.idle = true;
    return true;
  }

  /**
   * The connections that looked idle while requests were in flight, once
   * the look has seen every connection: marked idle unless a request in
   * flight is theirs, or the servers send more responses they do not name
   * (Bun) than the connections seen with bytes still going out account for.
   */
  #markIdle(look: _Look): void {
    if (look.idle.length === 0) return;
    const known = requestsAtApp();
    // Asked once a server: nothing runs between these marks to change it.
    const unnamed = new Map<WatchOptions, boolean>();
    for (const { ex, server } of look.idle) {
      if (requestOf(known(server.inFlight), ex.peer) !== undefined) continue;
      let more = unnamed.get(server);
      if (more === undefined) unnamed.set(server, more = (server.sending?.() ?? 0) > look.sendingSeen);
      if (!more) ex.idle = true;
    }
  }

  #shut(fd: number, ex: Exchange, server: WatchOptions, perServer: Map<WatchOptions, _Counts>): void {
    if (this.#still(fd, ex) && this.#libc.shutdown(fd, SHUT_RDWR) === 0) _counts(perServer, server).idle++;
  }

  /** Closes the suspects that are too slow, knowing which requests the app has. */
  #judge(
    suspects: readonly _Suspect[],
    now: number,
    perServer: Map<WatchOptions, _Counts>,
    known: (inFlight: InFlightRequests | undefined) => RequestsByPeer,
  ): void {
    for (const { fd, ex, info, server } of suspects) {
      const request = requestOf(known(server.inFlight), ex.peer);
      const verdict = judge(ex, info, now, server.slow as SlowLimits, request, server.tls);
      // Bytes waiting unread: the worker is behind, not the client.
      if (verdict === null || this.#probe.unread(fd) > 0 || !this.#still(fd, ex)) continue;
      const counts = _counts(perServer, server);
      // A 408 only where nothing of an answer can be on its way: plain HTTP,
      // data received, and the app never had the request or still holds it.
      const answer = !server.tls && info.bytesReceived > ex.base && (!ex.atApp || request != null);
      if (answer && this.#libc.send(fd, _408, _408.length, MSG_DONTWAIT | MSG_NOSIGNAL) === _408.length) {
        counts.answered++;
      }
      if (this.#libc.shutdown(fd, SHUT_RDWR) !== 0) continue;
      if (verdict === "head") counts.heads++;
      else counts.bodies++;
    }
  }
}

/** Whether the server has requests in flight, or responses it is sending on connections it does not name. */
function _busy(server: WatchOptions): boolean {
  return (server.inFlight?.size ?? 0) > 0 || (server.sending?.() ?? 0) > 0;
}

function _yield(): Promise<void> {
  return new Promise((resolve) => sys.setImmediate(resolve));
}

function _counts(perServer: Map<WatchOptions, _Counts>, server: WatchOptions): _Counts {
  let counts = perServer.get(server);
  if (counts === undefined) perServer.set(server, counts = { idle: 0, heads: 0, bodies: 0, answered: 0 });
  return counts;
}

let _shared: { watcher: ConnectionWatcher; timer: Timer | null } | null = null;

/** Runs the process's watcher every `interval`, one look at a time, until no server is left. */
function _schedule(shared: NonNullable<typeof _shared>): void {
  const interval = shared.watcher.interval;
  const due = performance.now() + interval;
  const timer = sys.after(interval, async () => {
    // Late by more than a look: this loop (and the runtime's) was blocked.
    const late = performance.now() - due > interval + 100;
    try {
      await shared.watcher.look(late);
    } catch { /* /proc unreadable for a moment: next time */ }
    if (shared.timer !== timer) return; // stopped, or started again, meanwhile
    if (shared.watcher.empty) shared.timer = null;
    else _schedule(shared);
  });
  shared.timer = timer;
}

/**
 * Watches the connections accepted on `options.port` (see the module doc),
 * with the process's one watcher; returns the function that stops it.
 */
export function startConnectionWatcher(libc: LibcCalls, options: WatchOptions): () => void {
  _shared ??= { watcher: new ConnectionWatcher(libc), timer: null };
  const shared = _shared;
  const remove = shared.watcher.add(options);
  if (shared.timer === null) _schedule(shared);
  return () => {
    remove();
    if (shared.watcher.empty && shared.timer !== null) {
      shared.timer.cancel();
      shared.timer = null;
    }
  };
}
