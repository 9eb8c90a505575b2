/**
 * The process, file and socket calls that code shared by the master, the
 * workers and both runtimes makes, each runtime's own way. On Deno they
 * are Deno's own APIs: a single `node:` import (or the `process` global,
 * or an npm package) starts Deno's Node compatibility layer, 6 MiB more in
 * every worker (measured: docs/BENCHMARKS.md, "Issue #17, later"). On Bun,
 * whose Node APIs are native, they are `node:` modules.
 * @module
 */
import { denoSys } from "./_sys_deno.ts";
import { nodeSys } from "./_sys_node.ts";

/** Where bytes are written: a file opened for appending, stdout or stderr. */
export interface Sink {
  /** Writes some of `bytes` now; returns how many. */
  writeSync(bytes: Uint8Array): number;
  /** Writes some of `bytes` in the background; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes a file (never stdout or stderr). */
  close(): void;
}

/** A connected unix stream socket, written to only. */
export interface UnixStream {
  /** Writes all of `bytes`; resolves once the kernel has them; rejects when the peer is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /** Keeps the connection from holding the event loop open. */
  unref(): void;
}

/** See the module's text. Errors thrown by the file calls carry Node's `code` (`ENOENT`, `EACCES`...). */
export interface Sys {
  readonly pid: number;
  /** The CPU architecture as Node names it: `x64`, `arm64`... */
  readonly arch: string;
  tmpdir(): string;
  cwd(): string;
  chdir(path: string): void;
  /** Resident memory and the JavaScript heap in use, bytes. */
  memory(): { rss: number; heapUsed: number };
  readDir(path: string): string[];
  readLink(path: string): string;
  readText(path: string): string;
  exists(path: string): boolean;
  /** Removes a file; nothing if there is none. */
  remove(path: string): void;
  /** Creates or truncates a file with `mode` and writes `data` to it. */
  writeFile(path: string, data: Uint8Array, mode: number): void;
  /** Opens `path` for appending, creating it (0666 less the umask). */
  openAppend(path: string): Sink;
  readonly stdout: Sink;
  readonly stderr: Sink;
  connectUnix(path: string): Promise<UnixStream>;
  /** Runs `fn` once the event loop has served what is waiting (I/O, timers). */
  setImmediate(fn: () => void): void;
  /**
   * Runs `fn` once, after `ms` (a negative delay is none), until
   * cancelled: the timers of a worker that serves (the watchdog's tick, the
   * connection watcher, the access log's flush, --request-timeout). On Bun
   * it never holds the process open; on Deno it does until it fires or is
   * cancelled (a worker ends with an explicit exit).
   */
  after(ms: number, fn: () => void): Timer;
}

/** A timer of {@link Sys.after}. */
export interface Timer {
  /** `fn` will not run; nothing if it has run. */
  cancel(): void;
}

/**
 * This runtime's {@link Sys}. Both sides are imported, and only this
 * runtime's is built: neither imports a `node:` module, and a dynamic
 * import here (a top-level await) kept a Bun worker thread from starting
 * while its parent's loop was blocked (tests/worker/heartbeat.test.ts).
 */
export const sys: Sys = "Deno" in globalThis ? denoSys() : nodeSys();

const _encoder = new TextEncoder();

/** Writes all of `text` to `sink` now; an error (a closed stream, a full disk) is thrown. */
export function writeAllSync(sink: Sink, text: string | Uint8Array): void {
  const bytes = typeof text === "string" ? _encoder.encode(text) : text;
  for (let offset = 0; offset < bytes.length;) offset += sink.writeSync(bytes.subarray(offset));
}
