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
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { LibcCalls } from "./_libc.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
/** TCP_LISTEN in /proc/net/tcp's `st` column. */
const LISTEN = "0A";

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

/** Inodes of the sockets listening on `port`, in every process of this network namespace. */
export function listeningInodes(port: number, tables?: string[]): Set<string> {
  return socketInodes(port, LISTEN, tables);
}

/** Inodes of the TCP sockets in `state` whose local port is `port`, in this network namespace. */
export function socketInodes(
  port: number,
  state: string,
  tables = ["/proc/net/tcp", "/proc/net/tcp6"],
): Set<string> {
  const inodes = new Set<string>();
  for (const table of tables) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (f.length < 10 || local === undefined || f[3] !== state) continue;
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port) inodes.add(f[9] as string);
    }
  }
  return inodes;
}

/** The inode of the socket behind this process's descriptor `fd`, or null. */
function _inodeOf(fd: number): string | null {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null;
  } catch {
    return null; // closed meanwhile
  }
}

/** This process's descriptors of the sockets in `inodes`, with their inodes. */
function _ownFds(inodes: Set<string>): { fd: number; inode: string }[] {
  const found: { fd: number; inode: string }[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const inode = _inodeOf(Number(name));
    if (inode !== null && inodes.has(inode)) found.push({ fd: Number(name), inode });
  }
  return found;
}

/** This process's file descriptors of the sockets listening on `port`. */
export function listeningFds(port: number): number[] {
  return _ownFds(listeningInodes(port)).map((s) => s.fd);
}

/**
 * Detaches this process's listeners on `port` (see the module doc).
 * Returns how many were detached.
 * @throws {Error} naming the call that failed.
 */
export function detachListeners(libc: LibcCalls, port: number): number {
  const fds = listeningFds(port);
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
