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
import { sys } from "./sys.ts";

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** This process's sockets by descriptor, from /proc/self/fd. */
function* _sockets(): Generator<number> {
  for (const name of sys.readDir("/proc/self/fd")) {
    try {
      if (sys.readLink(`/proc/self/fd/${name}`).startsWith("socket:")) yield Number(name);
    } catch { /* gone meanwhile (the listing's own descriptor) */ }
  }
}

/**
 * Marks every socket of this process close-on-exec, but 0–2 and those in
 * `keep`; returns how many it marked. Needs /proc readable.
 *
 * @example
 * ```ts
 * closeSocketsOnExec(libc, new Set([3])); // systemd's socket at 3 still reaches a child; no other does
 * ```
 */
export function closeSocketsOnExec(libc: LibcCalls, keep: ReadonlySet<number>): number {
  let marked = 0;
  for (const fd of _sockets()) {
    if (fd < 3 || keep.has(fd)) continue;
    const flags = libc.fcntl(fd, F_GETFD, 0);
    if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue; // closed meanwhile, or marked already
    if (libc.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) marked++;
  }
  return marked;
}
