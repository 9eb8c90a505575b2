/**
 * A worker: loads the app, binds every address and serves, drains and
 * stops (the process around it is lib/worker/main.ts).
 * @module
 */
import { sys } from "../runtime/sys.ts";
import { type App, loadApp, type LoadedApp, ownedKeyWarnings, toApp } from "./app_loader.ts";
import { formatAddress } from "../address.ts";
import { describeError, ExitCode } from "../errors.ts";
import { buildFront, type Front } from "./front/mod.ts";
import { withConnectionClose } from "./front/_responses.ts";
import { heartbeatInterval, startHeartbeat } from "./heartbeat.ts";
import { InFlight } from "./in_flight.ts";
import { callHook, type Hooks } from "../config/hooks.ts";
import type { IpcClient, WorkerBoot } from "../ipc.ts";
import { logger } from "../log.ts";
import type {
  ClosedConnections,
  ErrorHandler,
  Handler,
  RunningServer,
  Runtime,
  ServeInfo,
} from "../runtime/mod.ts";
import { readTls } from "../tls.ts";
import { Watchdog } from "./watchdog.ts";
import { BUFFER_BYTES } from "../watchdog_buffer.ts";

/**
 * A stopping worker first keeps serving for at most this long, with
 * `Connection: close` on every answer, and only then stops its servers.
 * Deno's shutdown() and Bun's stop(false) close at once every connection
 * with no request in progress, even when the client's next request already
 * sits unread in the socket: that request would be lost. After
 * `Connection: close` a client stops reusing the connection, so by the time
 * the servers stop, busy keep-alive connections are gone. Where it can be
 * done (Linux with tcp_migrate_req=1, both runtimes), the listeners are
 * detached first, so that no new connection arrives only to be closed
 * unread (docs/RELIABILITY.md).
 */
const DRAIN_MS = 1000;
/**
 * With its listeners detached no new connection comes: the drain may go on
 * longer, until the connections it has are quiet (a worker short of CPU
 * reads their last requests late).
 */
const DRAIN_DETACHED_MS = 10_000;
/** The drain ends sooner once no request has come for this long. */
const DRAIN_QUIET_MS = 100;
/**
 * Open WebSockets are closed this long (or a tenth of the graceful timeout,
 * if less) before the graceful timeout, when the worker exits and the
 * master kills what is left: time for the close handshake.
 */
const WS_CLOSE_MARGIN_MS = 1000;

function _internalError(): Response {
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Worker: the process that serves requests. */
export class Worker {
  readonly #rt: Runtime;
  readonly #boot: WorkerBoot;
  readonly #ipc: IpcClient;
  readonly #hooks: Hooks;
  readonly #log = logger("worker");
  readonly #servers: RunningServer[] = [];
  #front: Front | undefined;
  #watchdog: Watchdog | undefined;
  /** --max-requests for this worker, jitter included. */
  #limit = Infinity;
  #stopping = false;
  #draining = false;
  /** The master reads this worker's watchdog from a file both map: no heartbeats to send. */
  sharesWatchdog = false;
  /** Requests begun since the drain began. */
  #drained = 0;
  /** Requests the app holds, for the runtime's connection watcher (--keep-alive, slow clients). */
  readonly #inFlight: InFlight;

  /** Sockets bound before the worker dropped its privileges, by listen entry. */
  readonly #bound: readonly (number | undefined)[];

  constructor(
    rt: Runtime,
    boot: WorkerBoot,
    ipc: IpcClient,
    hooks: Hooks,
    bound: (number | undefined)[] = [],
  ) {
    this.#rt = rt;
    this.#boot = boot;
    this.#ipc = ipc;
    this.#hooks = hooks;
    this.#bound = bound;
    this.#inFlight = new InFlight(rt.whenSent);
  }

  get #info() {
    return { pid: sys.pid, age: this.#boot.age };
  }

  /** Loads the app and starts a server on every address. */
  async boot(app: App | undefined): Promise<void> {
    const { settings } = this.#boot;
    sys.chdir(settings.chdir);
    const loaded = app ? toApp(app) : await loadApp(this.#boot.app, sys.cwd());
    for (const warning of ownedKeyWarnings(loaded.exported)) this.#log.warning(warning);
    await callHook(this.#hooks, "postWorkerInit", this.#info);
    const tls = readTls(settings);
    const onError = this.#onError(loaded);
    const front = this.#front = buildFront(loaded.handler, settings, { worker: this.#boot.age, onError });
    this.#watch();
    const wrap = (handler: Handler) => this.#supervise(front.wrap(handler));
    const served = this.#supervise(front.handler);
    for (const [i, { address, reusePort, tls: useTls, fd }] of this.#boot.listen.entries()) {
      // systemd's socket (shared by every worker), or ours bound before dropping privileges.
      const listenFd = fd ?? this.#bound[i];
      const spec = {
        ...(listenFd !== undefined ? { listenFd, sharedListener: fd !== undefined } : {}),
        ...front.serve,
        inFlight: this.#inFlight,
        onClosed: (closed: ClosedConnections) => this.#closed(closed),
        address,
        reusePort,
        tls: useTls ? tls : null,
        handler: served,
        onError,
        app: loaded.exported,
        wrap,
      };
      const server = this.#rt.serve(spec);
      this.#servers.push(server);
      const ended = () => this.#serverEnded(formatAddress(address, useTls));
      server.finished?.then(ended, ended);
    }
  }

  /** Logs what the connection watcher closed, one line a look. */
  #closed({ idle, heads, bodies, answered }: ClosedConnections): void {
    if (heads + bodies === 0) return; // idle connections are the normal life of keep-alive
    this.#log.info(
      "Closed {n} slow clients ({heads} heads past --header-timeout, {bodies} bodies past --body-timeout; " +
        "{answered} answered 408)",
      { n: heads + bodies, heads, bodies, answered, idle },
    );
  }

  /**
   * A server stopped while nobody asked it to (on Deno, an app's upgrade
   * answered with another response ends it): the worker would live on
   * without serving, so it exits and the master replaces it.
   */
  #serverEnded(where: string): void {
    if (this.#stopping) return;
    this.#log.fatal("The server at {where} stopped serving; worker {pid} exits so that it is replaced", {
      where,
      pid: sys.pid,
    });
    this.#rt.exit(ExitCode.ERROR);
  }

  /**
   * What a request whose handler threw gets: the error is logged, then the
   * app's own `error()` answers if it has one, else a plain 500. An
   * `error()` that fails, or answers something else than a Response, is
   * logged too and the client gets the 500.
   */
  #onError(app: LoadedApp): ErrorHandler {
    const appError = app.error;
    const failed = (error: unknown) => {
      this.#log.error("The app's error() failed: {message}", { message: describeError(error), error });
      return _internalError();
    };
    const checked = (answer: unknown) =>
      answer instanceof Response
        ? answer
        : failed(new TypeError(`it returned ${typeof answer}, not a Response`));
    return (error) => {
      this.#log.error("Error handling request: {message}", { message: describeError(error), error });
      if (appError === null) return _internalError();
      try {
        const answer = appError(error);
        return answer instanceof Promise ? answer.then(checked, failed) : checked(answer);
      } catch (err) {
        return failed(err);
      }
    };
  }

  /** Starts the watchdog, and its heartbeat thread unless the master reads it, when anything needs them. */
  #watch(): void {
    const { timeout, maxRequests, metricsBind, maxWorkerMemory, controlSocket } = this.#boot.settings;
    const watched = timeout > 0 || maxRequests > 0 || maxWorkerMemory > 0 || metricsBind !== null ||
      controlSocket !== null;
    if (!watched) return;
    // The bytes counter is shown only by the metrics; the responses' counts by them and `corral ctl`.
    const countBytes = metricsBind !== null;
    const countResponses = metricsBind !== null || controlSocket !== null;
    const shared = this.#sharedWatchdog();
    const watchdog = this.#watchdog = new Watchdog({ countBytes, countResponses, ...shared });
    watchdog.startTicking();
    if (shared.buffer === undefined) this.#startHeartbeat(watchdog);
    else this.sharesWatchdog = true;
    const { maxRequestsJitter } = this.#boot.settings;
    this.#limit = maxRequests > 0
      ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1))
      : Infinity;
  }

  /**
   * The file the master reads this worker's watchdog from, mapped, with
   * the machine's clock for its times; nothing when the master cannot read
   * one or the runtime cannot map it (the heartbeat thread reports then).
   */
  #sharedWatchdog(): { buffer?: ArrayBuffer; clockBase?: number } {
    const path = this.#boot.watchdogFile;
    const shared = path === null ? null : this.#rt.sharedMemory();
    if (path === null || shared === null) return {};
    try {
      const buffer = shared.map(path, BUFFER_BYTES);
      return { buffer, clockBase: shared.monotonicMs() - performance.now() };
    } catch (err) {
      this.#log.warning("Cannot map {path} for the master: {cause}; a heartbeat thread reports instead", {
        path,
        cause: describeError(err),
      });
      return {};
    }
  }

  /**
   * Wraps a handler with what the master's supervision needs: requests in
   * flight for --timeout, the count for --max-requests, the counters for
   * metrics, the requests the app holds for the connection watcher; and
   * `Connection: close` while the worker drains. One wrapper, so one call
   * more per request than the app's own.
   */
  #supervise(handler: Handler): Handler {
    const watchdog = this.#watchdog;
    if (watchdog === undefined) return this.#drainable(handler);
    const limit = this.#limit;
    const inFlight = this.#inFlight;
    return (request, info) => {
      const startedAt = watchdog.startTime();
      const slot = watchdog.begin(request, startedAt);
      const id = inFlight.add(request, info);
      if (watchdog.requests === limit) {
        this.#ipc.send({ type: "retire", pid: sys.pid, requests: limit });
      }
      let response;
      try {
        response = this.#draining ? this.#drainOne(handler, request, info) : handler(request, info);
      } catch (err) {
        inFlight.delete(id);
        watchdog.end(slot, startedAt, null, info);
        throw err;
      }
      if (response instanceof Promise) {
        response.then((r) => {
          inFlight.answered(id, r, info);
          watchdog.end(slot, startedAt, r, info);
        }, () => {
          inFlight.delete(id);
          watchdog.end(slot, startedAt, null, info);
        });
      } else {
        inFlight.answered(id, response, info);
        watchdog.end(slot, startedAt, response, info);
      }
      return response;
    };
  }

  #startHeartbeat(watchdog: Watchdog): void {
    startHeartbeat({
      watchdog,
      ipcPath: this.#boot.ipcPath,
      pid: sys.pid,
      intervalMs: heartbeatInterval(this.#boot.settings.timeout),
      send: (message) => this.#ipc.send(message),
    });
  }

  /** USR1: reopen log files. */
  reopen(): void {
    this.#front?.reopen();
  }

  /**
   * While the worker drains, every answer says `Connection: close`; and
   * the requests the app holds, and those whose streamed response is being
   * sent, are recorded (for the connection watcher). A boolean check and
   * the record otherwise; a promise callback for an async handler.
   */
  #drainable(handler: Handler): Handler {
    const inFlight = this.#inFlight;
    return (request, info) => {
      const id = inFlight.add(request, info);
      let response;
      try {
        response = this.#draining ? this.#drainOne(handler, request, info) : handler(request, info);
      } catch (err) {
        inFlight.delete(id);
        throw err;
      }
      if (response instanceof Promise) {
        response.then((r) => inFlight.answered(id, r, info), () => inFlight.delete(id));
      } else {
        inFlight.answered(id, response, info);
      }
      return response;
    };
  }

  /** One request served while the worker drains. */
  #drainOne(handler: Handler, request: Request, info: ServeInfo): ReturnType<Handler> {
    this.#drained++;
    const response = handler(request, info);
    return response instanceof Promise
      ? response.then((r) => withConnectionClose(r, request))
      : withConnectionClose(response, request);
  }

  /**
   * Serves with `Connection: close` until no request came for
   * DRAIN_QUIET_MS and none waits unread in the kernel, `maxMs` at most. A
   * worker short of CPU may not have read a request that came meanwhile: it
   * is not quiet then, and its shutdown would close that connection.
   */
  async #drain(maxMs: number): Promise<void> {
    this.#draining = true;
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const seen = this.#drained;
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(DRAIN_QUIET_MS, deadline - Date.now()))));
      if (this.#drained === seen && !this.#servers.some((s) => s.pendingInput?.())) return;
    }
  }

  /**
   * Drains (unless `drain` is false: the master is gone and nothing can
   * take the connections over), stops accepting, lets in-flight requests
   * finish within `timeoutMs`, exits 0.
   */
  async stop(timeoutMs: number, drain = true): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const stopAt = Date.now();
    this.#log.info("Worker exiting (pid: {pid})", { pid: sys.pid });
    setTimeout(() => this.#rt.exit(ExitCode.OK), timeoutMs);
    await callHook(this.#hooks, "workerExit", this.#info);
    if (drain) {
      // New connections go to the other workers from now on; this one's are drained.
      const detached = this.#servers.map((s) => s.detach?.() ?? false).filter(Boolean).length;
      if (detached > 0) this.#log.debug("Listeners detached: {n}", { n: detached });
      // Detached, only the connections it has can bring requests: it drains until they are quiet.
      const cap = detached === this.#servers.length ? DRAIN_DETACHED_MS : DRAIN_MS;
      await this.#drain(Math.min(cap, timeoutMs / 2));
    }
    const closer = this.#closeWebSocketsAt(stopAt + timeoutMs - Math.min(WS_CLOSE_MARGIN_MS, timeoutMs / 10));
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    clearTimeout(closer);
    await this.#front?.close();
    this.#rt.exit(ExitCode.OK);
  }

  /**
   * The servers' shutdown waits for the open WebSockets: they run on until
   * `at`, just before the graceful timeout, and are then closed with 1001
   * (going away), so that their clients learn why before the worker exits.
   */
  #closeWebSocketsAt(at: number): ReturnType<typeof setTimeout> | undefined {
    const sockets = this.#rt.webSockets;
    if (sockets.open === 0) return undefined;
    this.#log.info("Waiting for {n} WebSockets to close, until {s} s from now", {
      n: sockets.open,
      s: Math.max(0, (at - Date.now()) / 1000).toFixed(1),
    });
    return setTimeout(() => {
      if (sockets.open === 0) return;
      this.#log.info("Closing {n} WebSockets (1001): the graceful timeout is up", { n: sockets.open });
      sockets.closeAll(1001, "going away");
    }, Math.max(0, at - Date.now()));
  }
}
