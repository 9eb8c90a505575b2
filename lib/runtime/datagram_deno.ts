/** The Deno side of unix datagram sockets (sd_notify): libc through Deno's FFI. */
import { LIBC_NAMES, LIBC_SYMBOLS, type LibcCalls } from "./_libc.ts";

const _SYMBOLS = {
  ...LIBC_SYMBOLS,
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/**
 * Binds libc. Needs --allow-ffi (`-A` has it).
 * @throws {Error} when FFI is not allowed or no libc is found.
 */
export function openLibc(): LibcCalls {
  let lib: Deno.DynamicLibrary<typeof _SYMBOLS> | undefined;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      lib = Deno.dlopen(name, _SYMBOLS);
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!lib) throw lastError;
  const s = lib.symbols;
  return {
    socket: (domain, type, protocol) => s.socket(domain, type, protocol),
    bind: (fd, addr, len) => s.bind(fd, addr, len),
    sendto: (fd, buf, len, flags, addr, addrLen) =>
      Number(s.sendto(fd, buf, BigInt(len), flags, addr, addrLen)),
    recv: (fd, buf, len, flags) => Number(s.recv(fd, buf, BigInt(len), flags)),
    close: (fd) => s.close(fd),
    listen: (fd, backlog) => s.listen(fd, backlog),
    dup2: (from, to) => s.dup2(from, to),
    getsockopt: (fd, level, name, value, length) => s.getsockopt(fd, level, name, value, length),
    getsockname: (fd, address, length) => s.getsockname(fd, address, length),
    getpeername: (fd, address, length) => s.getpeername(fd, address, length),
    ioctl: (fd, request, arg) => s.ioctl(fd, BigInt(request), arg),
    send: (fd, buf, len, flags) => Number(s.send(fd, buf, BigInt(len), flags)),
    shutdown: (fd, how) => s.shutdown(fd, how),
    clockGettime: (clock, ts) => s.clock_gettime(clock, ts),
    setsockopt: (fd, level, name, value, length) => s.setsockopt(fd, level, name, value, length),
    fcntl: (fd, command, argument) => s.fcntl(fd, command, argument),
    epollCtl: (epfd, op, fd, event) => s.epoll_ctl(epfd, op, fd, event),
    setgroups: (count, gids) => s.setgroups(BigInt(count), gids),
    setgid: (gid) => s.setgid(gid),
    setuid: (uid) => s.setuid(uid),
    errno: () => {
      const p = s.__errno_location();
      return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
    },
  };
}
