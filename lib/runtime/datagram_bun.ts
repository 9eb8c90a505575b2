/** The Bun side of unix datagram sockets (sd_notify): libc through bun:ffi. */
import process from "node:process";
import { LIBC_NAMES, LIBC_SYMBOLS, type LibcCalls } from "./_libc.ts";

type _Fn = (...args: unknown[]) => unknown;
interface _BunFfi {
  dlopen(name: string, symbols: Record<string, { args: readonly string[]; returns: string }>): {
    symbols: Record<string, _Fn>;
  };
  read: { i32(ptr: number, offset?: number): number };
}

/**
 * Binds libc.
 * @throws {Error} when no libc is found.
 */
export function openLibc(): LibcCalls {
  // getBuiltinModule, not an import: Deno must not try to resolve "bun:ffi".
  const ffi = (process as unknown as { getBuiltinModule(id: string): unknown }).getBuiltinModule(
    "bun:ffi",
  ) as _BunFfi;
  const symbols: Record<string, { args: readonly string[]; returns: string }> = {
    __errno_location: { args: [], returns: "ptr" },
  };
  for (const [name, def] of Object.entries(LIBC_SYMBOLS)) {
    symbols[name] = { args: def.parameters, returns: def.result };
  }
  let lib: { symbols: Record<string, _Fn> } | undefined;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      lib = ffi.dlopen(name, symbols);
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!lib) throw lastError;
  const s = lib.symbols as Record<keyof typeof LIBC_SYMBOLS | "__errno_location", _Fn>;
  return {
    socket: (domain, type, protocol) => Number(s.socket(domain, type, protocol)),
    bind: (fd, addr, len) => Number(s.bind(fd, addr, len)),
    sendto: (fd, buf, len, flags, addr, addrLen) => Number(s.sendto(fd, buf, len, flags, addr, addrLen)),
    recv: (fd, buf, len, flags) => Number(s.recv(fd, buf, len, flags)),
    close: (fd) => Number(s.close(fd)),
    listen: (fd, backlog) => Number(s.listen(fd, backlog)),
    dup2: (from, to) => Number(s.dup2(from, to)),
    getsockopt: (fd, level, name, value, length) => Number(s.getsockopt(fd, level, name, value, length)),
    getsockname: (fd, address, length) => Number(s.getsockname(fd, address, length)),
    getpeername: (fd, address, length) => Number(s.getpeername(fd, address, length)),
    ioctl: (fd, request, arg) => Number(s.ioctl(fd, request, arg)),
    send: (fd, buf, len, flags) => Number(s.send(fd, buf, len, flags)),
    shutdown: (fd, how) => Number(s.shutdown(fd, how)),
    clockGettime: (clock, ts) => Number(s.clock_gettime(clock, ts)),
    setsockopt: (fd, level, name, value, length) => Number(s.setsockopt(fd, level, name, value, length)),
    fcntl: (fd, command, argument) => Number(s.fcntl(fd, command, argument)),
    epollCtl: (epfd, op, fd, event) => Number(s.epoll_ctl(epfd, op, fd, event)),
    setgroups: (count, gids) => Number(s.setgroups(count, gids)),
    setgid: (gid) => Number(s.setgid(gid)),
    setuid: (uid) => Number(s.setuid(uid)),
    errno: () => {
      const p = Number(s.__errno_location());
      return p ? ffi.read.i32(p, 0) : 0;
    },
  };
}
