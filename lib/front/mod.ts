/**
 * The HTTP front: what corral does around each request before and after
 * the app (limits, proxy headers, access log, timeouts). Parts that are
 * off cost nothing: the app's handler is returned as it is.
 * @module
 */
import type { Handler } from "../runtime/types.ts";
import type { Settings } from "../settings.ts";

/** The handler a worker serves, and what it must do at stop and on USR1. */
export interface Front {
  readonly handler: Handler;
  /** Flushes buffered log lines; called as the worker stops. */
  close(): Promise<void>;
  /** Reopens log files (USR1). */
  reopen(): void;
}

/** Wraps the app's handler with the parts of the front the settings turn on. */
export function buildFront(app: Handler, _settings: Readonly<Settings>): Front {
  return { handler: app, close: () => Promise.resolve(), reopen: () => {} };
}
