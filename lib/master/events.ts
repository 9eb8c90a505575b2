/**
 * What the master's loop reacts to: signals, child exits, worker messages,
 * control-socket commands and its own wake-ups. Listeners only queue one
 * of these; the arbiter's loop takes them off one at a time.
 * @module
 */
import type { WorkerMessage } from "../ipc.ts";
import type { ChildExit, Signal } from "../runtime/mod.ts";
import type { Status } from "./metrics.ts";
import type { ControlReply, ControlRequest } from "./operations.ts";

/** One event of the master's queue. */
export type MasterEvent =
  | { readonly kind: "signal"; readonly signal: Signal }
  | { readonly kind: "exit"; readonly pid: number; readonly status: ChildExit }
  | { readonly kind: "message"; readonly message: WorkerMessage }
  | { readonly kind: "scale"; readonly workers: number }
  | { readonly kind: "wakeup" };

/** Master signals, as Gunicorn's arbiter handles them. */
export const SIGNALS: readonly Signal[] = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

/** `1 worker`, `2 workers`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The reply to a control-socket command; commands that change something
 * are queued as the signal that does the same (`push`), so they run on the
 * master's loop like any signal.
 */
export function controlReply(
  request: ControlRequest,
  target: number,
  push: (event: MasterEvent) => void,
  status: () => Status,
): ControlReply {
  switch (request.command) {
    case "status":
      return { ok: true, message: "status", status: status() };
    case "reload":
      push({ kind: "signal", signal: "SIGHUP" });
      return { ok: true, message: "Reloading: new workers start, old ones drain as each new one serves" };
    case "stop":
      push({ kind: "signal", signal: "SIGTERM" });
      return { ok: true, message: "Stopping gracefully" };
    case "scale":
      push({ kind: "scale", workers: request.workers });
      return { ok: true, message: `Scaling to ${request.workers} workers (from ${target})` };
  }
}
