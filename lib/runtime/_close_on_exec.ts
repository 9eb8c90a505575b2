/**
 * A child gets only the descriptors it is given. Deno 2.9's node:net makes
 * a unix socket's listener without close-on-exec (measured: the master's
 * worker channel and its control socket, `--control-socket`; the sockets
 * it accepts and everything else it opens have the flag), and Deno.Command
 * closes nothing else: every worker held both listeners. An app's code, as
 * `--user`'s unprivileged user too, could then accept the connections of
 * the operator's `corral ctl` or of the other workers. Before each spawn,
 * Deno's runtime (deno.ts) marks every socket of the process close-on-exec
 * but those the child is given (systemd's, LISTEN_FDS). Bun's spawn closes
 * what is not given (nothing to do there).
 * @module
 */
import type { LibcCalls } from "./_libc.ts";

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks each of `sockets` (descriptor numbers of this process's sockets)
 * close-on-exec, but 0–2 and those in `keep`; returns how many it marked.
 *
 * @example
 * ```ts
 * closeSocketsOnExec(libc, [21, 23], new Set([3])); // 2: neither reaches a child now
 * ```
 */
export function closeSocketsOnExec(
  libc: LibcCalls,
  sockets: Iterable<number>,
  keep: ReadonlySet<number>,
): number {
  let marked = 0;
  for (const fd of sockets) {
    if (fd < 3 || keep.has(fd)) continue;
    const flags = libc.fcntl(fd, F_GETFD, 0);
    if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue; // closed meanwhile, or marked already
    if (libc.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) marked++;
  }
  return marked;
}
