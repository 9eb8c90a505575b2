/**
 * A worker process: boots from the master's first stdin line, loads the
 * app, binds every address and serves until told to stop or until the
 * master is gone.
 * @module
 */
import process from "node:process";
import { type App, loadApp, toHandler } from "./app_loader.ts";
import { CorralError, describeError, ExitCode } from "./errors.ts";
import { buildFront, type Front } from "./front/mod.ts";
import { IpcClient, type WorkerBoot } from "./ipc.ts";
import { logger, setupLogging } from "./log.ts";
import type { Handler, RunningServer, Runtime } from "./runtime/mod.ts";
import { readTls } from "./tls.ts";

/** When the master is gone, a worker drains for at most this long. */
const ORPHAN_GRACE_MS = 1500;

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
  readonly #log = logger("worker");
  #servers: RunningServer[] = [];
  #front: Front | undefined;
  #stopping = false;

  constructor(rt: Runtime, boot: WorkerBoot) {
    this.#rt = rt;
    this.#boot = boot;
  }

  /** Loads the app and starts a server on every address. */
  async boot(app: App | undefined): Promise<void> {
    const { settings } = this.#boot;
    process.chdir(settings.chdir);
    const handler: Handler = app ? toHandler(app) : await loadApp(this.#boot.app, process.cwd());
    const tls = readTls(settings);
    const onError = (error: unknown) => {
      this.#log.error("Error handling request: {message}", { message: describeError(error), error });
      return _internalError();
    };
    this.#front = buildFront(handler, settings);
    for (const { address, reusePort, tls: useTls } of this.#boot.listen) {
      this.#servers.push(
        this.#rt.serve({ address, reusePort, tls: useTls ? tls : null, handler: this.#front.handler, onError }),
      );
    }
  }

  /** Stops accepting, lets in-flight requests finish within `timeoutMs`, exits 0. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.info("Worker exiting (pid: {pid})", { pid: process.pid });
    setTimeout(() => this.#rt.exit(ExitCode.OK), timeoutMs);
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    await this.#front?.close();
    this.#rt.exit(ExitCode.OK);
  }
}

/**
 * The worker's entry point: `corral --corral-worker` (internal).
 * `app` is given when the master was started through mod.ts `serve()`.
 */
export async function runWorker(rt: Runtime, app?: App): Promise<void> {
  let worker: Worker | undefined;
  // Installed before boot so a stop during a slow app load is honoured.
  rt.onSignal("SIGTERM", () => worker ? worker.stop(gracefulMs) : rt.exit(ExitCode.OK));
  rt.onSignal("SIGINT", () => rt.exit(ExitCode.OK));
  rt.onSignal("SIGQUIT", () => rt.exit(ExitCode.OK));
  // HUP, USR1, WINCH are the master's business; a worker must not die of them.
  for (const sig of ["SIGHUP", "SIGUSR1", "SIGWINCH"] as const) rt.onSignal(sig, () => {});

  let gracefulMs = 30_000;
  const input = rt.stdinLines()[Symbol.asyncIterator]();
  const first = await input.next();
  if (first.done) rt.exit(ExitCode.WORKER_BOOT_ERROR);
  const boot = JSON.parse(first.value) as WorkerBoot;
  gracefulMs = boot.settings.gracefulTimeout * 1000;
  setupLogging(boot.settings.logLevel);
  const ipc = await IpcClient.connect(boot.ipcPath);
  ipc.unref();

  worker = new Worker(rt, boot);
  try {
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
  await worker.stop(Math.min(ORPHAN_GRACE_MS, gracefulMs));
}
