/**
 * Unix datagram sockets through libc, for sd_notify: neither runtime has
 * them in a stable API (Deno's needs --unstable-net, Bun's and
 * node:dgram's are UDP only); what _sockets.ts and _watcher.ts call
 * (dup2, getsockopt, getsockname, getpeername, ioctl, send, shutdown); what
 * _adopt.ts calls (socket, bind, listen, epoll_ctl...); and setgroups,
 * setgid and setuid for --user (glibc applies them to every thread of the
 * process, the runtime's included). The runtime files only open libc; the
 * socket logic here is shared. Linux only, as systemd is.
 * @module
 */
import { AF_UNIX, ERRNO_NAMES, MSG_DONTWAIT, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM } from "./_linux.ts";

/** The libc symbols used, in the FFI type names both runtimes share. */
export const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // Variadic in C; called with its one pointer argument, which both ABIs corral runs on pass as a fixed one.
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
} as const;

/** Where libc may be: glibc, then musl. */
export const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

/** The calls, as each runtime binds them. */
export interface LibcCalls {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, addrLen: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrLen: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  close(fd: number): number;
  listen(fd: number, backlog: number): number;
  dup2(from: number, to: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint8Array): number;
  getsockname(fd: number, address: Uint8Array, length: Uint8Array): number;
  getpeername(fd: number, address: Uint8Array, length: Uint8Array): number;
  /** ioctl with one pointer argument (an int out, for FIONREAD). */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  shutdown(fd: number, how: number): number;
  clockGettime(clock: number, timespec: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  /** fcntl(2) with an int argument (F_GETFL, F_SETFL, F_GETFD, F_SETFD). */
  fcntl(fd: number, command: number, argument: number): number;
  epollCtl(epfd: number, op: number, fd: number, event: Uint8Array): number;
  setgroups(count: number, gids: Uint8Array): number;
  setgid(gid: number): number;
  setuid(uid: number): number;
  /** The calling thread's errno, right after a failed call. */
  errno(): number;
}

const CLOCK_MONOTONIC = 1;
/** sizeof(sun_path) on Linux. */
const SUN_PATH_MAX = 108;

/** A unix datagram socket. */
export interface UnixDatagram {
  /** Sends one datagram to the socket at `path` (`@name`: the abstract namespace). */
  send(path: string, data: Uint8Array): void;
  /** The next datagram waiting, or null; never blocks. */
  receive(maxBytes?: number): Uint8Array | null;
  close(): void;
}

/** `EADDRINUSE` for 98: the name of an errno, else `errno N`. */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** A `struct sockaddr_un` for `path`; a leading `@` means the abstract namespace, as systemd writes it. */
export function sockaddrUn(path: string): { addr: Uint8Array; length: number } {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  const length = 2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1);
  if (length - 2 > SUN_PATH_MAX) throw new RangeError(`Socket path "${path}" is too long`);
  const addr = new Uint8Array(2 + SUN_PATH_MAX);
  addr[0] = AF_UNIX; // sa_family_t, little-endian on every Linux corral runs on
  addr.set(name, abstract ? 3 : 2);
  return { addr, length };
}

/** Opens a datagram socket, bound to `bindPath` when given (to receive). */
export function openUnixDatagram(libc: LibcCalls, bindPath?: string): UnixDatagram {
  const fail = (what: string) => new Error(`${what} failed: ${errnoName(libc.errno())}`);
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket(AF_UNIX, SOCK_DGRAM)");
  if (bindPath !== undefined) {
    const { addr, length } = sockaddrUn(bindPath);
    if (libc.bind(fd, addr, length) < 0) {
      const err = fail(`bind("${bindPath}")`);
      libc.close(fd);
      throw err;
    }
  }
  let open = true;
  return {
    send(path, data) {
      const { addr, length } = sockaddrUn(path);
      const n = libc.sendto(fd, data, data.length, MSG_NOSIGNAL, addr, length);
      if (n < 0) throw fail(`sendto("${path}")`);
    },
    receive(maxBytes = 4096) {
      const buf = new Uint8Array(maxBytes);
      const n = libc.recv(fd, buf, buf.length, MSG_DONTWAIT);
      return n < 0 ? null : buf.slice(0, n);
    },
    close() {
      if (open) libc.close(fd);
      open = false;
    },
  };
}

/** CLOCK_MONOTONIC in microseconds: what systemd's MONOTONIC_USEC= wants. */
export function monotonicMicros(libc: LibcCalls): bigint {
  const ts = new Uint8Array(16);
  if (libc.clockGettime(CLOCK_MONOTONIC, ts) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
  const view = new DataView(ts.buffer);
  return view.getBigInt64(0, true) * 1_000_000n + view.getBigInt64(8, true) / 1000n;
}
