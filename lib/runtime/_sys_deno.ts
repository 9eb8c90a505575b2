/** {@link Sys} on Deno's own APIs: no `node:` module (see sys.ts). */
import type { Sink, Sys, Timer, UnixStream } from "./sys.ts";

const _ARCH: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };

function _sink(
  file: { writeSync(b: Uint8Array): number; write(b: Uint8Array): Promise<number> },
  close = () => {},
): Sink {
  return { writeSync: (bytes) => file.writeSync(bytes), write: (bytes) => file.write(bytes), close };
}

async function _connectUnix(path: string): Promise<UnixStream> {
  const conn = await Deno.connect({ transport: "unix", path });
  // One write at a time, as node:net queues them: a partial write is never interleaved with the next.
  let tail: Promise<void> = Promise.resolve();
  return {
    write(bytes) {
      const written = tail.then(async () => {
        for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
      });
      tail = written.catch(() => {});
      return written;
    },
    unref: () => conn.unref(),
  };
}

/** Deno's {@link Sys}; only called on Deno (this file is loaded on Bun too). */
export function denoSys(): Sys {
  return {
    pid: Deno.pid,
    arch: _ARCH[Deno.build.arch] ?? Deno.build.arch,
    tmpdir() {
      // As node:os's tmpdir(); without --allow-env, the default.
      try {
        const dir = Deno.env.get("TMPDIR") || Deno.env.get("TMP") || Deno.env.get("TEMP");
        if (dir) return dir.length > 1 && dir.endsWith("/") ? dir.slice(0, -1) : dir;
      } catch { /* not allowed to read the environment */ }
      return "/tmp";
    },
    cwd: () => Deno.cwd(),
    chdir: (path) => Deno.chdir(path),
    memory() {
      const { rss, heapUsed } = Deno.memoryUsage();
      return { rss, heapUsed };
    },
    readDir: (path) => Array.from(Deno.readDirSync(path), (entry) => entry.name),
    readLink: (path) => Deno.readLinkSync(path),
    readText: (path) => Deno.readTextFileSync(path),
    exists(path) {
      try {
        Deno.statSync(path);
        return true;
      } catch {
        return false;
      }
    },
    remove(path) {
      try {
        Deno.removeSync(path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
    writeFile: (path, data, mode) => Deno.writeFileSync(path, data, { mode }),
    openAppend(path) {
      const file = Deno.openSync(path, { append: true, create: true });
      return _sink(file, () => file.close());
    },
    stdout: _sink(Deno.stdout),
    stderr: _sink(Deno.stderr),
    connectUnix: _connectUnix,
    setImmediate: (fn) => void _after(0, fn),
    after: _after,
  };
}

/**
 * Deno 2.9's setTimeout and setInterval are its Node compatibility layer's
 * timers, which they load on first use (measured: a bare Deno.serve 2.1 MiB
 * more RSS with one setInterval, 0.7 with an AbortSignal.timeout loop);
 * AbortSignal.timeout's timer is Deno's own. It holds the process open
 * while the signal has a listener.
 */
function _after(ms: number, fn: () => void): Timer {
  // Whole milliseconds, never early; AbortSignal.timeout takes no negative delay.
  const signal = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  const listener = () => fn();
  signal.addEventListener("abort", listener, { once: true });
  return { cancel: () => signal.removeEventListener("abort", listener) };
}
