/**
 * A worker process: `corral --corral-worker` (internal). It boots from the
 * master's first stdin line, connects to the master, drops its privileges
 * where asked (--user), runs a {@link Worker} until told to stop, and stops
 * by itself when the master is gone (its stdin ends, even after a SIGKILL).
 * @module
 */
import { sys, writeAllSync } from "../runtime/sys.ts";
import type { Hooks } from "../config/hooks.ts";
import { CorralError, describeError, ExitCode } from "../errors.ts";
import { IpcClient, type WorkerBoot } from "../ipc.ts";
import { logger, setupLogging } from "../log.ts";
import type { Runtime } from "../runtime/mod.ts";
import type { App } from "./app_loader.ts";
import { Worker } from "./worker.ts";

/** When the master is gone, a worker drains for at most this long (it must be gone within 2 s). */
const ORPHAN_GRACE_MS = 1000;

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
    writeAllSync(sys.stderr, `corral: worker ${sys.pid} cannot reach the master: ${describeError(err)}\n`);
    return rt.exit(ExitCode.WORKER_BOOT_ERROR);
  }
  ipc.unref();

  let worker: Worker;
  try {
    // --user: bind with the master's privileges, then drop them before any of the app's code runs.
    const bound = boot.ids ? await (await import("./privileges.ts")).dropPrivileges(rt, boot) : [];
    // Started by the CLI: the hooks are in the config file the master loaded (loaded only if there is one:
    // the config machinery is the master's).
    hooks ??= boot.settings.config === null
      ? {}
      : await (await import("../config/config_file.ts")).loadConfigHooks(boot.settings);
    worker = state.worker = new Worker(rt, boot, ipc, hooks, bound);
    await worker.boot(app);
  } catch (err) {
    const code = err instanceof CorralError ? err.exitCode : ExitCode.WORKER_BOOT_ERROR;
    const message = err instanceof CorralError ? err.message : `Worker failed to boot: ${describeError(err)}`;
    await ipc.send({ type: "boot_error", pid: sys.pid, code, message });
    rt.exit(code);
  }
  await ipc.send({
    type: "ready",
    pid: sys.pid,
    ...(worker.sharesWatchdog ? { sharesWatchdog: true } : {}),
  });
  logger("worker").debug("Worker {pid} is ready and has told the master", { pid: sys.pid });

  // The master holds our stdin open for as long as it lives.
  for (;;) {
    const next = await input.next();
    if (next.done) break;
  }
  logger("worker").warning("Master is gone; worker {pid} stops", { pid: sys.pid });
  await worker.stop(Math.min(ORPHAN_GRACE_MS, state.gracefulMs), false);
}
