/**
 * A worker process: boots from the master's first stdin line, loads the
 * app, binds every address and serves until told to stop or until the
 * master is gone.
 * @module
 */
import process from "node:process";
import { type App, loadApp, toHandler } from "./app_loader.ts";
import { CorralError, describeError, ExitCode } from "../errors.ts";
import { buildFront, type Front } from "./front/mod.ts";
import { withConnectionClose } from "./front/_responses.ts";
import type { HeartbeatStart } from "./heartbeat_thread.ts";
import { InFlight } from "./in_flight.ts";
import { loadConfigHooks } from "../config/config_file.ts";
import { callHook, type Hooks } from "../config/hooks.ts";
import { IpcClient, type WorkerBoot } from "../ipc.ts";
import { logger, setupLogging } from "../log.ts";
import type { ClosedConnections, Handler, RunningServer, Runtime, ServeInfo } from "../runtime/mod.ts";
import { readTls } from "../tls.ts";
import { TICK_MS, Watchdog } from "./watchdog.ts";

/** When the master is gone, a worker drains for at most this long (it must be gone within 2 s). */
const ORPHAN_GRACE_MS = 1000;
/**
 * A stopping worker first keeps serving for at most this long, with
 * `Connection: close` on every answer, and only then stops its servers.
 * Deno's shutdown() and Bun's stop(false) close at once every connection
 * with no request in progress, even when the client's next request already
 * sits unread in the socket: that request would be lost. After
 * `Connection: close` a client stops reusing the connection, so by the time
 * the servers stop, busy keep-alive connections are gone. Where the runtime
 * needs it (Deno), the listeners are detached first, so that no new
 * connection arrives only to be closed unread (docs/RELIABILITY.md).
 */
const DRAIN_MS = 1000;
/** The drain ends sooner once no request has come for this long. */
const DRAIN_QUIET_MS = 100;

function _internalError(): Response {
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** How often the heartbeat thread reports: often enough for --timeout. */
export function heartbeatInterval(timeoutSeconds: number): number {
  if (timeoutSeconds <= 0) return 1000;
  return Math.max(100, Math.min(1000, (timeoutSeconds * 1000) / 4));
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
  #stopping = false;
  #draining = false;
  /** Requests begun since the drain began. */
  #drained = 0;
  /** Requests the app holds, for the runtime's connection watcher (--keep-alive, slow clients). */
  readonly #inFlight = new InFlight();

  constructor(rt: Runtime, boot: WorkerBoot, ipc: IpcClient, hooks: Hooks) {
    this.#rt = rt;
    this.#boot = boot;
    this.#ipc = ipc;
    this.#hooks = hooks;
  }

  get #info() {
    return { pid: process.pid, age: this.#boot.age };
  }

  /** Loads the app and starts a server on every address. */
  async boot(app: App | undefined): Promise<void> {
    const { settings } = this.#boot;
    process.chdir(settings.chdir);
    const handler: Handler = app ? toHandler(app) : await loadApp(this.#boot.app, process.cwd());
    await callHook(this.#hooks, "postWorkerInit", this.#info);
    const tls = readTls(settings);
    const onError = (error: unknown) => {
      this.#log.error("Error handling request: {message}", { message: describeError(error), error });
      return _internalError();
    };
    this.#front = buildFront(handler, settings, { worker: this.#boot.age, onError });
    const served = this.#supervise(this.#front.handler);
    for (const { address, reusePort, tls: useTls } of this.#boot.listen) {
      const spec = {
        ...this.#front.serve,
        inFlight: this.#inFlight,
        onClosed: (closed: ClosedConnections) => this.#closed(closed),
        address,
        reusePort,
        tls: useTls ? tls : null,
        handler: served,
        onError,
      };
      this.#servers.push(this.#rt.serve(spec));
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
   * Wraps the handler with what the master's supervision needs: requests in
   * flight for --timeout, the count for --max-requests, the counters for
   * metrics, the requests the app holds for the connection watcher; and
   * `Connection: close` while the worker drains. One wrapper, so one call
   * more per request than the app's own.
   */
  #supervise(handler: Handler): Handler {
    const { timeout, maxRequests, maxRequestsJitter, maxWorkerMemory, metricsBind, controlSocket } =
      this.#boot.settings;
    const watched = timeout > 0 || maxRequests > 0 || maxWorkerMemory > 0 || metricsBind !== null ||
      controlSocket !== null;
    if (!watched) return this.#drainable(handler);
    // The bytes counter is shown only by the metrics.
    const watchdog = this.#watchdog = new Watchdog({ countBytes: metricsBind !== null });
    this.#startHeartbeat(watchdog);
    const limit = maxRequests > 0
      ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1))
      : Infinity;
    const inFlight = this.#inFlight;
    return (request, info) => {
      const startedAt = performance.now();
      const slot = watchdog.begin(request, startedAt);
      const id = inFlight.add(request, info);
      if (watchdog.requests === limit) {
        this.#ipc.send({ type: "retire", pid: process.pid, requests: limit });
      }
      let response;
      try {
        response = this.#draining ? this.#drainOne(handler, request, info) : handler(request, info);
      } catch (err) {
        inFlight.delete(id);
        watchdog.end(slot, startedAt, null);
        throw err;
      }
      if (response instanceof Promise) {
        response.then((r) => {
          inFlight.delete(id);
          watchdog.end(slot, startedAt, r);
        }, () => {
          inFlight.delete(id);
          watchdog.end(slot, startedAt, null);
        });
      } else {
        inFlight.delete(id);
        watchdog.end(slot, startedAt, response);
      }
      return response;
    };
  }

  #startHeartbeat(watchdog: Watchdog): void {
    const timer = setInterval(() => watchdog.tick(), TICK_MS);
    (timer as { unref?: () => void }).unref?.();
    const thread = new globalThis.Worker(new URL("./heartbeat_thread.ts", import.meta.url).href, {
      type: "module",
    });
    const start: HeartbeatStart = {
      buffer: watchdog.buffer,
      ipcPath: this.#boot.ipcPath,
      pid: process.pid,
      intervalMs: heartbeatInterval(this.#boot.settings.timeout),
    };
    thread.postMessage(start);
  }

  /** USR1: reopen log files. */
  reopen(): void {
    this.#front?.reopen();
  }

  /**
   * While the worker drains, every answer says `Connection: close`; and
   * the requests the app holds are recorded (for the connection watcher).
   * A boolean check and the record otherwise; a promise callback for an
   * async handler.
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
        const settled = () => inFlight.delete(id);
        response.then(settled, settled);
      } else {
        inFlight.delete(id);
      }
      return response;
    };
  }

  /** One request served while the worker drains. */
  #drainOne(handler: Handler, request: Request, info: ServeInfo): Response | Promise<Response> {
    this.#drained++;
    const response = handler(request, info);
    return response instanceof Promise
      ? response.then((r) => withConnectionClose(r, request))
      : withConnectionClose(response, request);
  }

  /** Serves with `Connection: close` until no request came for DRAIN_QUIET_MS, `maxMs` at most. */
  async #drain(maxMs: number): Promise<void> {
    this.#draining = true;
    const deadline = Date.now() + maxMs;
    let seen = -1;
    while (this.#drained !== seen && Date.now() < deadline) {
      seen = this.#drained;
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(DRAIN_QUIET_MS, deadline - Date.now()))));
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
    this.#log.info("Worker exiting (pid: {pid})", { pid: process.pid });
    setTimeout(() => this.#rt.exit(ExitCode.OK), timeoutMs);
    await callHook(this.#hooks, "workerExit", this.#info);
    if (drain) {
      // New connections go to the other workers from now on; this one's are drained.
      const detached = this.#servers.map((s) => s.detach?.() ?? false).filter(Boolean).length;
      if (detached > 0) this.#log.debug("Listeners detached: {n}", { n: detached });
      await this.#drain(Math.min(DRAIN_MS, timeoutMs / 2));
    }
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    await this.#front?.close();
    this.#rt.exit(ExitCode.OK);
  }
}

/**
 * The worker's entry point: `corral --corral-worker` (internal).
 * `app` and `hooks` are given when the master was started through mod.ts.
 */
export async function runWorker(rt: Runtime, app?: App, hooks?: Hooks): Promise<void> {
  const state: { worker?: Worker; gracefulMs: number } = { gracefulMs: 30_000 };
  // Installed before boot so a stop during a slow app load is honoured.
  rt.onSignal("SIGTERM", () => state.worker ? state.worker.stop(state.gracefulMs) : rt.exit(ExitCode.OK));
  rt.onSignal("SIGINT", () => rt.exit(ExitCode.OK));
  rt.onSignal("SIGQUIT", () => rt.exit(ExitCode.OK));
  rt.onSignal("SIGUSR1", () => state.worker?.reopen());
  // HUP, WINCH and USR2 are the master's business; a worker must not die of them.
  for (const sig of ["SIGHUP", "SIGWINCH", "SIGUSR2"] as const) rt.onSignal(sig, () => {});

  const input = rt.stdinLines()[Symbol.asyncIterator]();
  const first = await input.next();
  if (first.done) rt.exit(ExitCode.WORKER_BOOT_ERROR);
  const boot = JSON.parse(first.value) as WorkerBoot;
  state.gracefulMs = boot.settings.gracefulTimeout * 1000;
  setupLogging(boot.settings);
  let ipc: IpcClient;
  try {
    ipc = await IpcClient.connect(boot.ipcPath);
  } catch (err) {
    // No channel to report through: say it on stderr, once.
    process.stderr.write(`corral: worker ${process.pid} cannot reach the master: ${describeError(err)}\n`);
    return rt.exit(ExitCode.WORKER_BOOT_ERROR);
  }
  ipc.unref();

  let worker: Worker;
  try {
    // Started by the CLI: the hooks are in the config file the master loaded.
    hooks ??= await loadConfigHooks(boot.settings);
    worker = state.worker = new Worker(rt, boot, ipc, hooks);
    await worker.boot(app);
  } catch (err) {
    const code = err instanceof CorralError ? err.exitCode : ExitCode.WORKER_BOOT_ERROR;
    const message = err instanceof CorralError ? err.message : `Worker failed to boot: ${describeError(err)}`;
    await ipc.send({ type: "boot_error", pid: process.pid, code, message });
    rt.exit(code);
  }
  await ipc.send({ type: "ready", pid: process.pid });

  // The master holds our stdin open for as long as it lives.
  for (;;) {
    const next = await input.next();
    if (next.done) break;
  }
  logger("worker").warning("Master is gone; worker {pid} stops", { pid: process.pid });
  await worker.stop(Math.min(ORPHAN_GRACE_MS, state.gracefulMs), false);
}
