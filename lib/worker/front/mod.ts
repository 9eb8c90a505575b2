/**
 * The HTTP front: what corral does around each request before and after
 * the app (proxy headers, the access log, limits, backpressure, timeouts),
 * the worker's log files, and what the runtime's server is asked to
 * enforce itself. Parts that are off cost nothing: with all of them off
 * the app's handler is returned as it is.
 * @module
 */
import { reopenLogFiles, setupLogging } from "../../log.ts";
import type { ErrorHandler, Handler, ServeInfo, ServeSpec } from "../../runtime/types.ts";
import type { Settings } from "../../config/settings.ts";
import { AccessLog, withAccessLog } from "./access_log.ts";
import { parseAllowIps } from "./allow_ips.ts";
import { type InFlight, withMaxConcurrency, withRequestTimeout } from "./backpressure.ts";
import { gateWalks, withGate } from "./gate.ts";
import { FieldScan, limitsOf, withBodyLimit } from "./limits.ts";
import { withConnectionClose } from "./_responses.ts";

/** What the runtime's server enforces itself (see {@link ServeSpec}). */
export type ServeLimits = Pick<ServeSpec, "idleTimeout" | "headerTimeout" | "bodyTimeout" | "minUploadRate">;

/** The handler a worker serves, and what it must do at stop and on USR1. */
export interface Front {
  readonly handler: Handler;
  /** Wraps another handler of the app (a Bun route) as `handler` is, sharing its state. */
  wrap(app: Handler): Handler;
  /** Options for every `runtime.serve()` of this worker. */
  readonly serve: ServeLimits;
  /** Flushes buffered log lines and closes the log files; called as the worker stops. */
  close(): Promise<void>;
  /** Reopens log files (USR1). */
  reopen(): void;
}

/** What the worker tells the front besides the settings. */
export interface FrontOptions {
  /** The worker's age, for the error log's JSON lines. */
  readonly worker?: number | null;
  /** Turns an error the app threw into the response (the worker logs it). */
  readonly onError?: ErrorHandler;
  /** Requests in flight for --max-concurrency, shared by every handler wrapped. */
  readonly inFlight?: InFlight;
}

function _internalError(): Response {
  return new Response("Internal Server Error", { status: 500 });
}

/** `--keep-alive 0`, as in Gunicorn: no keep-alive, one response per connection. */
function _closeConnections(next: Handler): Handler {
  return (request, info) => {
    const result = next(request, info);
    return result instanceof Promise
      ? result.then((response) => withConnectionClose(response, request))
      : withConnectionClose(result, request);
  };
}

/** The runtime options the settings ask for. */
export function serveLimits(settings: Readonly<Settings>): ServeLimits {
  return {
    ...(settings.keepAlive > 0 ? { idleTimeout: settings.keepAlive } : {}),
    ...(settings.headerTimeout > 0 ? { headerTimeout: settings.headerTimeout } : {}),
    ...(settings.bodyTimeout > 0 ? { bodyTimeout: settings.bodyTimeout } : {}),
    minUploadRate: settings.minUploadRate,
  };
}

/**
 * Wraps the app's handler with the parts of the front the settings turn
 * on, innermost first. The gate (proxy headers, then limits) is outermost,
 * so the access log sees the client the app sees; it hands its refusals
 * to the access log itself.
 */
export function wrapHandler(
  app: Handler,
  settings: Readonly<Settings>,
  access: AccessLog | null,
  options: FrontOptions = {},
): Handler {
  let handler = app;
  if (settings.limitRequestBody > 0) handler = withBodyLimit(handler, settings.limitRequestBody);
  if (settings.requestTimeout > 0) handler = withRequestTimeout(handler, settings.requestTimeout);
  if (settings.maxConcurrency > 0) {
    handler = withMaxConcurrency(handler, settings.maxConcurrency, options.inFlight);
  }
  if (settings.keepAlive === 0) handler = _closeConnections(handler);
  const limits = limitsOf(settings);
  const allow = settings.forwardedAllowIps.length > 0 ? parseAllowIps(settings.forwardedAllowIps) : null;
  const scan = gateWalks(limits) ? new FieldScan() : undefined;
  if (access) handler = withAccessLog(handler, access, options.onError ?? _internalError, scan);
  if (limits !== null || allow !== null) {
    const onRefusal = access
      ? (request: Request, info: ServeInfo, response: Response) =>
        access.refused(request, info, response, scan)
      : undefined;
    handler = withGate(handler, limits, allow, onRefusal, scan);
  }
  return handler;
}

/**
 * Builds the worker's front: configures its error log (--error-logfile,
 * --log-format), opens its access log, and wraps the app's handler.
 *
 * @example
 * ```ts
 * const front = buildFront(app, settings, { worker: 1 });
 * runtime.serve({ ...front.serve, address, reusePort: true, tls: null, handler: front.handler, onError });
 * ```
 * @throws {BootError} when a log file cannot be opened.
 */
export function buildFront(app: Handler, settings: Readonly<Settings>, options: FrontOptions = {}): Front {
  setupLogging({ ...settings, worker: options.worker ?? null });
  const access = settings.accessLogfile === null
    ? null
    : AccessLog.open(settings.accessLogfile, settings.accessLogFormat);
  const shared = { ...options, inFlight: { n: 0 } };
  const wrap = (handler: Handler) => wrapHandler(handler, settings, access, shared);
  return {
    handler: wrap(app),
    wrap,
    serve: serveLimits(settings),
    close: () => access?.close() ?? Promise.resolve(),
    reopen: reopenLogFiles,
  };
}
