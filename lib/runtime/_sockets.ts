/**
 * This process's TCP sockets, seen through Linux's /proc and handled
 * through libc, for what the runtimes' servers cannot be asked to do.
 *
 * **Detaching a listener**: new connections stop coming to this process,
 * while the connections it has already accepted go on being served.
 * Closing the listener would do the first, but the runtime's own server
 * cannot close its listener without also closing every connection that has
 * not yet sent a request (Deno's `shutdown()`; denoland/deno#31959), so a
 * client's brand-new connection would be reset. How: the listener's file
 * descriptor is replaced, with `dup2`, by a socket listening on a random
 * loopback port nobody knows. The kernel drops the real listener from the
 * SO_REUSEPORT group (with `net.ipv4.tcp_migrate_req=1`, the connections
 * queued on it move to the other workers' listeners); the runtime's accept
 * loop waits on the stand-in for ever and its server goes on serving its
 * connections until it is shut down. Only worth it with
 * `tcp_migrate_req=1`: at 0, the queued connections are reset at once
 * instead of being served during the drain (measured: many more failed
 * requests, docs/RELIABILITY.md).
 *
 * **Closing idle connections** (`--keep-alive`: Deno 2.9's server has no
 * idle timeout, and Bun's also cuts a request the app takes longer than
 * it to answer): the kernel knows, per connection, how long ago data was last
 * received and last sent (TCP_INFO). A connection whose last event was a
 * response sent, or that never carried data, waits for its client: past the
 * timeout it is shut down, and the server closes it as the client would have.
 * One that last received data is waiting for the app (a request in
 * progress) and is left alone (see {@link isIdle} for the kernel clock's
 * ties).
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import type { LibcCalls } from "./_libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
/** tcpi_state of an established connection (linux/tcp_states.h). */
const TCP_ESTABLISHED = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

/**
 * Linux's `net.ipv4.tcp_migrate_req`, or null where there is none. At 0,
 * closing one SO_REUSEPORT listener resets the connections still queued
 * on it (accepted by the kernel, not yet by the worker).
 */
export function tcpMigrateReq(): number | null {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim());
  } catch {
    return null;
  }
}

/** What TCP_INFO tells of a connection: how long ago data last went each way, and whether it ever did. */
export interface Quiet {
  /** tcpi_state: 1 is ESTABLISHED. */
  readonly state?: number;
  /** Milliseconds since data was last sent (since the connection began, if none was). */
  readonly sentMs: number;
  /** Milliseconds since data was last received (since the connection began, if none was). */
  readonly receivedMs: number;
  readonly everSent: boolean;
  readonly everReceived: boolean;
}

/**
 * Whether a connection so quiet has waited for its client for at least
 * `idleMs`: it never received anything, or its last event was data sent.
 * The kernel's clock ticks every few milliseconds (CONFIG_HZ), so a request
 * and its answer often share a tick: such a tie counts as waiting for the
 * client only when `busy` is false (no request in flight in this process),
 * since a tie is also a request that came in the tick of the last answer.
 */
export function isIdle(quiet: Quiet, idleMs: number, busy: boolean): boolean {
  if (!quiet.everReceived) return quiet.receivedMs >= idleMs;
  if (!quiet.everSent) return false; // its first request is in progress
  if (quiet.sentMs > quiet.receivedMs || (quiet.sentMs === quiet.receivedMs && busy)) return false;
  return quiet.sentMs >= idleMs;
}

const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const SHUT_RDWR = 2;
/** Offsets in struct tcp_info (linux/tcp.h); data_segs_in/out appeared in Linux 4.6. */
const LAST_DATA_SENT = 44;
const LAST_DATA_RECV = 52;
const DATA_SEGS_IN = 152;
const DATA_SEGS_OUT = 156;
const TCP_INFO_BYTES = 232;

/** TCP_INFO of `fd`, or null when it is not a TCP socket any more (or the kernel is too old). */
function _quiet(libc: LibcCalls, fd: number): Quiet | null {
  const info = new Uint8Array(TCP_INFO_BYTES);
  const length = new Uint8Array(4);
  const lengthView = new DataView(length.buffer);
  lengthView.setUint32(0, info.length, true);
  if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, length) < 0) return null;
  if (lengthView.getUint32(0, true) < DATA_SEGS_OUT + 4) return null;
  const view = new DataView(info.buffer);
  return {
    state: info[0] as number,
    sentMs: view.getUint32(LAST_DATA_SENT, true),
    receivedMs: view.getUint32(LAST_DATA_RECV, true),
    everSent: view.getUint32(DATA_SEGS_OUT, true) > 0,
    everReceived: view.getUint32(DATA_SEGS_IN, true) > 0,
  };
}

/** The local port of socket `fd` when it is an IPv4 or IPv6 one, else null. */
function _localPort(libc: LibcCalls, fd: number, address: Uint8Array, length: Uint8Array): number | null {
  new DataView(length.buffer).setUint32(0, address.length, true);
  if (libc.getsockname(fd, address, length) < 0) return null;
  const view = new DataView(address.buffer);
  // sa_family_t in the host's order (little-endian on every Linux corral runs on); the port in network order.
  const family = view.getUint16(0, true);
  if (family !== AF_INET && family !== AF_INET6) return null;
  return view.getUint16(2, false);
}

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const MSG_PEEK = 0x2;
const MSG_DONTWAIT = 0x40;

/**
 * This process's TCP sockets whose local port is `port`, listeners and
 * connections, from its own descriptors (a few dozen): never the whole
 * /proc/net/tcp, which under load holds tens of thousands of lines and took
 * 50 to 150 ms a read (measured, 12,600 lines).
 */
function _portFds(libc: LibcCalls, port: number): { fd: number; listening: boolean }[] {
  const found: { fd: number; listening: boolean }[] = [];
  const address = new Uint8Array(128);
  const length = new Uint8Array(4);
  const flag = new Uint8Array(4);
  const flagLength = new Uint8Array(4);
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (_localPort(libc, fd, address, length) !== port) continue;
    new DataView(flagLength.buffer).setUint32(0, 4, true);
    const ok = libc.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, flag, flagLength) === 0;
    found.push({ fd, listening: ok && new DataView(flag.buffer).getInt32(0, true) === 1 });
  }
  return found;
}

/** This process's descriptors of the sockets listening on `port`. */
export function listeningFds(libc: LibcCalls, port: number): number[] {
  return _portFds(libc, port).filter((s) => s.listening).map((s) => s.fd);
}

/**
 * Whether one of this process's connections on local port `port` holds
 * bytes the server has not read yet (a peek, which takes nothing): a
 * request that reached the kernel while the server was busy elsewhere. A
 * draining worker must not stop its server then: the runtime's shutdown
 * closes a connection with no request in progress, and a request still in
 * the kernel's buffer is not one yet (docs/RELIABILITY.md).
 */
export function hasUnreadInput(libc: LibcCalls, port: number): boolean {
  const byte = new Uint8Array(1);
  return _portFds(libc, port).some((s) =>
    !s.listening && libc.recv(s.fd, byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0
  );
}

/**
 * Shuts down this process's connections accepted on `port` that have
 * waited for their client for `idleMs` or more (see the module doc).
 * Returns how many. Runs synchronously, so no descriptor is closed and
 * reused by the runtime between its checks and its shutdown.
 */
export function closeIdleConnections(libc: LibcCalls, port: number, idleMs: number, busy: boolean): number {
  let closed = 0;
  const address = new Uint8Array(128);
  const length = new Uint8Array(4);
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    // A connection accepted on `port` has it as its local port (the listener too: TCP_INFO tells them apart).
    if (_localPort(libc, fd, address, length) !== port) continue;
    const quiet = _quiet(libc, fd);
    if (quiet === null || quiet.state !== TCP_ESTABLISHED || !isIdle(quiet, idleMs, busy)) continue;
    if (libc.shutdown(fd, SHUT_RDWR) === 0) closed++;
  }
  return closed;
}

/**
 * Detaches this process's listeners on `port` (see the module doc).
 * Returns how many were detached.
 * @throws {Error} naming the call that failed.
 */
export function detachListeners(libc: LibcCalls, port: number): number {
  const fds = listeningFds(libc, port);
  for (const fd of fds) {
    const standIn = libc.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (standIn < 0) throw new Error(`socket() failed (errno ${libc.errno()})`);
    try {
      // 127.0.0.1, port 0: the kernel picks a port; only this host could reach it.
      const loopback = new Uint8Array([AF_INET, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      if (libc.bind(standIn, loopback, loopback.length) < 0) {
        throw new Error(`bind() failed (errno ${libc.errno()})`);
      }
      if (libc.listen(standIn, 1) < 0) throw new Error(`listen() failed (errno ${libc.errno()})`);
      if (libc.dup2(standIn, fd) < 0) throw new Error(`dup2() failed (errno ${libc.errno()})`);
    } finally {
      libc.close(standIn);
    }
  }
  return fds.length;
}

/**
 * Shuts down connections accepted on `port` once they have waited for
 * their client `seconds`, checking a few times per timeout. Returns the
 * function that stops it.
 */
export function startIdleCloser(
  libc: LibcCalls,
  port: number,
  seconds: number,
  inFlight: () => number,
): () => void {
  const idleMs = seconds * 1000;
  const timer = setInterval(() => {
    try {
      closeIdleConnections(libc, port, idleMs, inFlight() > 0);
    } catch { /* /proc unreadable for a moment: next time */ }
  }, Math.max(250, Math.min(1000, idleMs / 4)));
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
