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
 * Closing idle and slow connections is runtime/_watcher.ts's.
 * @module
 */
import { sys } from "./sys.ts";
import type { LibcCalls } from "./_libc.ts";
import { TCP_ESTABLISHED, TcpProbe } from "./_tcp_info.ts";
import { AF_INET, SO_ACCEPTCONN, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET } from "./_linux.ts";

/**
 * Linux's `net.ipv4.tcp_migrate_req`, or null where there is none. At 0,
 * closing one SO_REUSEPORT listener resets the connections still queued
 * on it (accepted by the kernel, not yet by the worker).
 */
export function tcpMigrateReq(): number | null {
  try {
    return Number(sys.readText("/proc/sys/net/ipv4/tcp_migrate_req").trim());
  } catch {
    return null;
  }
}

/**
 * This process's TCP sockets whose local port is `port`, listeners and
 * connections, from its own descriptors (a few dozen): never the whole
 * /proc/net/tcp, which under load holds tens of thousands of lines and took
 * 50 to 150 ms a read (measured, 12,600 lines), blocking the worker's loop.
 */
function _portFds(libc: LibcCalls, port: number): { fd: number; listening: boolean }[] {
  const probe = new TcpProbe(libc);
  const found: { fd: number; listening: boolean }[] = [];
  const flag = new Uint8Array(4);
  const flagLength = new Uint8Array(4);
  for (const name of sys.readDir("/proc/self/fd")) {
    const fd = Number(name);
    if (probe.localPort(fd) !== port) continue;
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

/** A connection that has not sent a byte this long after it opened is idle; younger, its request is coming. */
const FRESH_MS = 1000;

/**
 * Whether one of this process's connections on local port `port` still has
 * a request on its way: bytes the server has not read yet (FIONREAD; a
 * worker busy elsewhere has not read them), or a connection opened less
 * than a second ago that has not sent its first byte yet. A draining worker
 * must not stop its server then: the runtime's shutdown closes every
 * connection with no request in progress, and a request still in the
 * kernel's buffer, or on the wire, is not one yet (docs/RELIABILITY.md).
 */
export function hasPendingInput(libc: LibcCalls, port: number): boolean {
  const probe = new TcpProbe(libc);
  return _portFds(libc, port).some((s) => {
    if (s.listening) return false;
    if (probe.unread(s.fd) > 0) return true;
    const info = probe.info(s.fd);
    return info !== null && info.state === TCP_ESTABLISHED && !info.everReceived &&
      info.receivedMs < FRESH_MS;
  });
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
