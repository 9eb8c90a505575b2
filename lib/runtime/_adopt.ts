/**
 * Serving a listening socket the runtime did not create: one systemd
 * passed (socket activation, LISTEN_FDS), or one a worker bound before it
 * dropped its privileges (--user). Neither Deno.serve nor Bun.serve takes a
 * file descriptor, so the runtime's server is started on a placeholder
 * (a loopback port, or a unix path, that nobody connects to) and the
 * placeholder's descriptor is then replaced, with `dup2`, by the socket to
 * serve.
 *
 * The runtime waits for connections through epoll, and epoll watches an
 * open file, not a descriptor number: after the `dup2` the runtime's
 * registration is gone with the placeholder, and its accept loop would wait
 * for ever (which is how _sockets.ts detaches a listener on purpose). So
 * the registration is made again, on the new socket, with the events and
 * the token the runtime used (read from /proc/self/fdinfo of its epoll
 * descriptors): the runtime's reactor then wakes for the new socket as it
 * did for the placeholder, and accepts from the same descriptor number.
 * Measured on Deno 2.9 (tokio: edge-triggered) and Bun 1.4 (uSockets:
 * level-triggered), tests/integration/activation.test.ts and
 * tests/integration/privileges.test.ts. Linux only.
 * @module
 */
import type { Address } from "../address.ts";
import type { LibcCalls } from "./_libc.ts";
import { errnoName, sockaddrUn } from "./_libc.ts";
import { sys } from "./sys.ts";
import { detachListeners, listeningFds, tcpMigrateReq } from "./_sockets.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SO_ACCEPTCONN,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOL_SOCKET,
} from "./_linux.ts";

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EEXIST = 17;
/** The backlog the runtimes' own listeners use (a kernel caps it at net.core.somaxconn). */
const BACKLOG = 511;

/** A failed call, with its errno. */
function _fail(libc: LibcCalls, what: string): Error {
  return new Error(`${what} failed (errno ${libc.errno()})`);
}

/** `struct sockaddr_in` or `sockaddr_in6` for an IP literal and a port. */
export function sockaddrIn(ip: string, port: number): { addr: Uint8Array; length: number } {
  if (ip.includes(":")) {
    const addr = new Uint8Array(28);
    new DataView(addr.buffer).setUint16(0, AF_INET6, true);
    new DataView(addr.buffer).setUint16(2, port, false);
    addr.set(_ipv6Bytes(ip), 8);
    return { addr, length: 28 };
  }
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new TypeError(`"${ip}" is not an IP address`);
  }
  const addr = new Uint8Array(16);
  new DataView(addr.buffer).setUint16(0, AF_INET, true);
  new DataView(addr.buffer).setUint16(2, port, false);
  addr.set(parts, 4);
  return { addr, length: 16 };
}

function _ipv6Bytes(ip: string): Uint8Array {
  const [head = "", tail = ""] = ip.split("::");
  const groups = (text: string) => text === "" ? [] : text.split(":");
  const h = groups(head);
  const t = ip.includes("::") ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (all.length !== 8) throw new TypeError(`"${ip}" is not an IP address`);
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => new DataView(bytes.buffer).setUint16(i * 2, parseInt(g, 16), false));
  return bytes;
}

/**
 * Creates a stream socket bound to `address` (an IP literal or a unix
 * path), not yet listening: it receives no connection until
 * {@link adoptListener} makes it listen, so a worker that binds before
 * loading its app gets no connection before it can answer.
 * @throws {Error} naming the call that failed (EACCES: a port that needs privileges).
 */
export function bindSocket(libc: LibcCalls, address: Address, reusePort: boolean): number {
  const { addr, length } = address.transport === "unix"
    ? sockaddrUn(address.path)
    : sockaddrIn(address.hostname, address.port);
  const family = address.transport === "unix" ? AF_UNIX : address.hostname.includes(":") ? AF_INET6 : AF_INET;
  const fd = libc.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw _fail(libc, "socket()");
  const one = new Uint8Array([1, 0, 0, 0]);
  try {
    if (family !== AF_UNIX) {
      libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
      if (reusePort && libc.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) < 0) {
        throw _fail(libc, "setsockopt(SO_REUSEPORT)");
      }
    }
    if (libc.bind(fd, addr, length) < 0) {
      const errno = libc.errno();
      const code = errnoName(errno);
      throw Object.assign(new Error(`bind() failed: ${code}`), { code });
    }
  } catch (err) {
    libc.close(fd);
    throw err;
  }
  return fd;
}

function _intOption(libc: LibcCalls, fd: number, name: number): number | null {
  const value = new Uint8Array(4);
  const length = new Uint8Array([4, 0, 0, 0]);
  if (libc.getsockopt(fd, SOL_SOCKET, name, value, length) < 0) return null;
  return new DataView(value.buffer).getInt32(0, true);
}

/** Whether `fd` is a listening stream socket. */
export function isListening(libc: LibcCalls, fd: number): boolean {
  return _intOption(libc, fd, SO_TYPE) === SOCK_STREAM && _intOption(libc, fd, SO_ACCEPTCONN) === 1;
}

/**
 * The address a socket is bound to (getsockname), or null when it is no
 * stream socket of a family corral serves.
 */
export function socketAddress(libc: LibcCalls, fd: number): Address | null {
  if (_intOption(libc, fd, SO_TYPE) !== SOCK_STREAM) return null;
  const address = new Uint8Array(128);
  const length = new Uint8Array([128, 0, 0, 0]);
  if (libc.getsockname(fd, address, length) < 0) return null;
  const view = new DataView(address.buffer);
  const family = view.getUint16(0, true);
  if (family === AF_INET) {
    return {
      transport: "tcp",
      hostname: [...address.subarray(4, 8)].join("."),
      port: view.getUint16(2, false),
    };
  }
  if (family === AF_INET6) {
    const groups = Array.from({ length: 8 }, (_, i) => view.getUint16(8 + i * 2, false));
    return { transport: "tcp", hostname: _ipv6Text(groups), port: view.getUint16(2, false) };
  }
  if (family === AF_UNIX) {
    const used = new DataView(length.buffer).getUint32(0, true);
    const raw = address.subarray(2, Math.max(2, used));
    const abstract = raw[0] === 0;
    const name = abstract
      ? raw.subarray(1)
      : raw.subarray(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0));
    return { transport: "unix", path: (abstract ? "@" : "") + new TextDecoder().decode(name) };
  }
  return null;
}

/** An IPv6 address's text, its longest run of zero groups written `::`. */
function _ipv6Text(groups: number[]): string {
  let [start, length] = [-1, 0];
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > length && j - i > 1) [start, length] = [i, j - i];
  }
  const hex = groups.map((g) => g.toString(16));
  if (start < 0) return hex.join(":");
  return `${hex.slice(0, start).join(":")}::${hex.slice(start + length).join(":")}`;
}

/** Puts a socket in non-blocking mode, as the runtimes' reactors need it. */
export function setNonBlocking(libc: LibcCalls, fd: number): void {
  const flags = libc.fcntl(fd, F_GETFL, 0);
  if (flags < 0 || libc.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw _fail(libc, "fcntl(O_NONBLOCK)");
}

/** One epoll registration of a descriptor: which epoll, which events, the runtime's token. */
interface Registration {
  readonly epfd: number;
  readonly events: number;
  readonly data: bigint;
}

function _inode(fd: number): string | null {
  try {
    return /^socket:\[(\d+)\]$/.exec(sys.readLink(`/proc/self/fd/${fd}`))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** This process's epoll registrations of `fd` (and of the socket it holds now). */
export function registrations(fd: number): Registration[] {
  const inode = _inode(fd);
  if (inode === null) return [];
  const ino = Number(inode).toString(16);
  const found: Registration[] = [];
  for (const name of sys.readDir("/proc/self/fd")) {
    let target: string;
    try {
      target = sys.readLink(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    if (target !== "anon_inode:[eventpoll]") continue;
    let info: string;
    try {
      info = sys.readText(`/proc/self/fdinfo/${name}`);
    } catch {
      continue;
    }
    for (
      const m of info.matchAll(
        /tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+).*?ino:\s*([0-9a-f]+)/g,
      )
    ) {
      if (Number(m[1]) !== fd || m[4] !== ino) continue;
      found.push({ epfd: Number(name), events: parseInt(m[2] as string, 16), data: BigInt(`0x${m[3]}`) });
    }
  }
  return found;
}

/** A `struct epoll_event`: packed on x86-64, padded to 16 bytes elsewhere. */
function _epollEvent(events: number, data: bigint): Uint8Array {
  const packed = sys.arch === "x64";
  const event = new Uint8Array(packed ? 12 : 16);
  const view = new DataView(event.buffer);
  view.setUint32(0, events, true);
  view.setBigUint64(packed ? 4 : 8, data, true);
  return event;
}

/**
 * Makes the runtime's listener at `placeholder` serve `fd` instead (see
 * the module doc): `fd` listens if it does not yet, becomes non-blocking,
 * takes the placeholder's descriptor number and its epoll registrations.
 * `fd` itself is closed: the runtime's descriptor now holds the socket.
 * @throws {Error} when the runtime's registration cannot be found or made again.
 */
export function adoptListener(libc: LibcCalls, placeholder: number, fd: number): void {
  const found = registrations(placeholder);
  if (found.length === 0) {
    throw new Error("the runtime's listener is not registered with epoll as expected");
  }
  if (!isListening(libc, fd) && libc.listen(fd, BACKLOG) < 0) throw _fail(libc, "listen()");
  setNonBlocking(libc, fd);
  for (const r of found) libc.epollCtl(r.epfd, EPOLL_CTL_DEL, placeholder, _epollEvent(0, 0n));
  if (libc.dup2(fd, placeholder) < 0) throw _fail(libc, "dup2()");
  libc.close(fd);
  let added = 0;
  for (const r of found) {
    // Two descriptors of one epoll instance list the same registration: the second add is EEXIST.
    if (libc.epollCtl(r.epfd, EPOLL_CTL_ADD, placeholder, _epollEvent(r.events, r.data)) === 0) added++;
    else if (libc.errno() !== EEXIST) throw _fail(libc, "epoll_ctl(EPOLL_CTL_ADD)");
  }
  if (added === 0) throw new Error("epoll_ctl(EPOLL_CTL_ADD) added no registration");
}

/**
 * Stops the runtime from learning of new connections on `fd`, a socket
 * other processes accept from too (systemd's): its epoll registrations go,
 * the socket stays, and the other workers take the connections. A
 * `dup2` as _sockets.ts detaches would not do here: the registration lives
 * as long as the socket is open anywhere. Returns whether one was removed.
 */
export function detachShared(libc: LibcCalls, fd: number): boolean {
  let removed = false;
  for (const r of registrations(fd)) {
    if (libc.epollCtl(r.epfd, EPOLL_CTL_DEL, fd, _epollEvent(0, 0n)) === 0) removed = true;
  }
  return removed;
}

/** The descriptor of this process's listener on a TCP port or at a unix path, or -1. */
export function listenerFd(libc: LibcCalls, address: Address): number {
  if (address.transport === "tcp") return listeningFds(libc, address.port)[0] ?? -1;
  let inode: string | undefined;
  try {
    // Num RefCount Protocol Flags Type St Inode Path
    for (const line of sys.readText("/proc/net/unix").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[7] === address.path) inode = f[6];
    }
  } catch {
    return -1;
  }
  if (inode === undefined) return -1;
  for (const name of sys.readDir("/proc/self/fd")) {
    if (_inode(Number(name)) === inode) return Number(name);
  }
  return -1;
}

/**
 * Sets this process's groups, group and user, in that order (the user
 * last: after it, the others cannot be changed).
 * @throws {Error} naming the call that failed.
 */
export function setIds(libc: LibcCalls, ids: { uid: number; gid: number; groups: readonly number[] }): void {
  const list = new Uint8Array(Math.max(4, ids.groups.length * 4));
  ids.groups.forEach((g, i) => new DataView(list.buffer).setUint32(i * 4, g, true));
  if (libc.setgroups(ids.groups.length, list) < 0) throw _fail(libc, "setgroups()");
  if (libc.setgid(ids.gid) < 0) throw _fail(libc, `setgid(${ids.gid})`);
  if (libc.setuid(ids.uid) < 0) throw _fail(libc, `setuid(${ids.uid})`);
}

let _placeholders = 0;

/**
 * Where the runtime's server is started before it adopts a socket: a
 * loopback port the kernel picks, or a fresh path in the temp folder.
 */
export function placeholderFor(address: Address): Address {
  if (address.transport === "tcp") return { transport: "tcp", hostname: "127.0.0.1", port: 0 };
  return { transport: "unix", path: `${sys.tmpdir()}/corral-adopt-${sys.pid}-${++_placeholders}.sock` };
}

/**
 * Finds the runtime's listener at `placeholder` (its port now known) and
 * makes it serve `fd` ({@link adoptListener}); a placeholder path is
 * removed. Returns the descriptor number the runtime serves `fd` at.
 * @throws {Error} when the listener is not found or cannot adopt it.
 */
export function adoptAt(libc: LibcCalls, placeholder: Address, fd: number): number {
  const at = listenerFd(libc, placeholder);
  try {
    if (at < 0) throw new Error("the runtime's listener was not found in /proc");
    adoptListener(libc, at, fd);
  } finally {
    if (placeholder.transport === "unix") sys.remove(placeholder.path);
  }
  return at;
}

/**
 * Stops new connections from reaching one of this process's servers
 * (a stopping worker, before it drains): a shared listener (systemd's
 * socket, `sharedFd`) only leaves this process's epoll; a listener of a
 * SO_REUSEPORT group on `port` is detached (runtime/_sockets.ts), and only
 * with tcp_migrate_req=1, where the connections queued on it move to the
 * other workers. False when nothing was done.
 */
export function detachServer(
  libc: LibcCalls | null,
  port: number | undefined,
  sharedFd: number | null,
): boolean {
  if (libc === null) return false;
  try {
    if (sharedFd !== null) return detachShared(libc, sharedFd);
    return port !== undefined && port > 0 && tcpMigrateReq() === 1 && detachListeners(libc, port) > 0;
  } catch {
    return false;
  }
}
