/**
 * A worker's heartbeats to the master, where the master cannot read the
 * worker's watchdog itself (lib/master/watchdog_files.ts: no shared memory
 * on this platform, or on Deno without --allow-ffi): what --timeout, the
 * metrics and `corral ctl status` read. They come from a thread
 * (heartbeat_thread.ts), so that they go on while the main loop is blocked
 * and name the request that blocked it. A thread that cannot start is logged, and the main loop
 * beats instead: a blocked loop is then found by its silence, as a frozen
 * thread is, so the worker is neither left unwatched nor killed as hung
 * when it is idle.
 * @module
 */
import type { Heartbeat } from "../ipc.ts";
import { describeError } from "../errors.ts";
import { logger } from "../log.ts";
import type { HeartbeatStart, ThreadMessage } from "./heartbeat_thread.ts";
import { heartbeatOf } from "../watchdog_buffer.ts";
import type { Watchdog } from "./watchdog.ts";

/** How often the heartbeat thread reports: often enough for --timeout. */
export function heartbeatInterval(timeoutSeconds: number): number {
  if (timeoutSeconds <= 0) return 1000;
  return Math.max(100, Math.min(1000, (timeoutSeconds * 1000) / 4));
}

/**
 * The URL of a thread module of lib/worker/. From source (a file or a URL),
 * beside this module. In a Bun single binary every bundled module's
 * import.meta.url is the binary's own, `file:///$bunfs/root/NAME`, and
 * scripts/compile.ts builds each thread module as an entry of its own at its
 * path under the repository's root, which is that folder: so the path is
 * taken from there (Bun maps the `.ts` name to the built `.js`).
 */
export function threadUrl(file: string, base: string = import.meta.url): string {
  if (base.endsWith("/lib/worker/heartbeat.ts")) return new URL(`./${file}`, base).href;
  return new URL(`./lib/worker/${file}`, base).href;
}

/** Options of {@link startHeartbeat}. */
export interface HeartbeatOptions {
  readonly watchdog: Watchdog;
  readonly ipcPath: string;
  readonly pid: number;
  readonly intervalMs: number;
  /** Sends a heartbeat on the worker's own channel: the main loop's beats when the thread fails. */
  readonly send: (message: Heartbeat) => void;
  /** The thread's module; the shipped one unless a test says otherwise. */
  readonly url?: string;
}

/** Heartbeats in progress. */
export interface Heartbeats {
  /** Where they come from now: the thread, or the main loop after the thread failed. */
  readonly source: "thread" | "main loop";
  /** Resolves with the reason when the thread failed and the main loop took over. */
  readonly fellBack: Promise<string>;
  /** Stops the beats, from wherever they come. */
  stop(): void;
}

/** Starts the heartbeat thread, and the main loop's beats if the thread fails. */
export function startHeartbeat(options: HeartbeatOptions): Heartbeats {
  const { watchdog, ipcPath, pid, intervalMs, send } = options;
  const state = { source: "thread" as Heartbeats["source"], stopped: false };
  let thread: Worker | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let fallBack: (why: string) => void = () => {};
  const heartbeats: Heartbeats = {
    get source() {
      return state.source;
    },
    fellBack: new Promise<string>((resolve) => fallBack = resolve),
    stop() {
      state.stopped = true;
      thread?.terminate();
      clearInterval(timer);
    },
  };
  const failed = (why: string) => {
    if (state.source !== "thread" || state.stopped) return;
    state.source = "main loop";
    thread?.terminate();
    logger("worker").error(
      "Heartbeat thread of worker {pid} failed: {why}. Heartbeats come from its main loop instead: " +
        "a blocked loop is found by its silence, and the requests in it are named as of the last heartbeat",
      { pid, why },
    );
    const beat = () => send(heartbeatOf(watchdog.buffer, pid));
    beat();
    timer = setInterval(beat, intervalMs);
    (timer as { unref?: () => void }).unref?.();
    fallBack(why);
  };
  try {
    thread = new globalThis.Worker(options.url ?? threadUrl("heartbeat_thread.ts"), { type: "module" });
  } catch (err) {
    failed(describeError(err));
    return heartbeats;
  }
  thread.addEventListener("error", (event) => {
    // Handled here: unhandled, Deno would rethrow it in the main thread.
    event.preventDefault();
    failed(event.message || String(event.error ?? "error"));
  });
  // Posted at once, so the thread beats even if the main loop blocks from
  // now on; and again when the thread says it listens, since Bun loses a
  // message that arrives while the thread's module still loads (seen with a
  // top-level await among its imports). The thread takes the first only.
  // A watchdog without a file the master maps writes in a SharedArrayBuffer (worker.ts).
  const start: HeartbeatStart = { buffer: watchdog.buffer as SharedArrayBuffer, ipcPath, pid, intervalMs };
  thread.postMessage(start);
  thread.addEventListener("message", (event: MessageEvent<ThreadMessage>) => {
    if (event.data?.type === "failed") return failed(event.data.message);
    if (event.data?.type === "listening") thread?.postMessage(start);
  });
  return heartbeats;
}
