/**
 * The master's worker processes and Gunicorn's verbs for them: spawn,
 * reap, murder, manage, kill. The arbiter (lib/master/arbiter.ts) calls
 * these from its loop and decides what a failed boot means; the decisions
 * about the pool are pure functions of lib/master/pool.ts.
 * @module
 */
import type { AppSpec } from "../config/config.ts";
import { callHook, type Hooks } from "../config/hooks.ts";
import type { Settings } from "../config/settings.ts";
import { describeError } from "../errors.ts";
import { WORKER_FLAG, type WorkerBoot, type WorkerMessage } from "../ipc.ts";
import { logger } from "../log.ts";
import type { ChildExit, Runtime, Signal } from "../runtime/mod.ts";
import { Backoff, STABLE_MS } from "./backoff.ts";
import type { Timers } from "./event_queue.ts";
import type { MasterEvent } from "./events.ts";
import { type ExitVerdict, judgeExit } from "./exits.ts";
import type { Metrics } from "./metrics.ts";
import * as pool from "./pool.ts";
import type { Resources } from "./resources.ts";
import { workerNeeds } from "./worker_needs.ts";
import { workerIds } from "./privileges.ts";
import { WatchdogFiles } from "./watchdog_files.ts";

type WorkerRecord = pool.WorkerRecord;

/** A stopping worker still alive this long past its graceful timeout is killed. */
const OVERSTAY_MS = 2000;

/** What {@link Workers} needs from the master. */
export interface WorkersOptions {
  readonly runtime: Runtime;
  readonly app: AppSpec;
  readonly hooks: Hooks;
  readonly metrics: Metrics;
  readonly timers: Timers;
  /** Queues an event on the master's loop. */
  readonly push: (event: MasterEvent) => void;
}

/** The worker processes of one master. */
export class Workers {
  readonly #records = new Map<number, WorkerRecord>();
  readonly #o: WorkersOptions;
  readonly #log = logger("arbiter");
  readonly backoff = new Backoff();
  #lastAge = 0;
  /** Where the workers map their watchdogs; null where the runtime cannot (undefined: not asked yet). */
  #files: WatchdogFiles | null | undefined;
  /** The watchdog file each worker was given, until its exit is reaped. */
  readonly #filePaths = new Map<number, string>();

  constructor(options: WorkersOptions) {
    this.#o = options;
  }

  /** Every record, exited ones whose exit is not reaped yet included. */
  records(): WorkerRecord[] {
    return [...this.#records.values()];
  }

  /** The workers whose process still runs. */
  live(): WorkerRecord[] {
    return this.records().filter((w) => !w.exited);
  }

  /** The record of a live or unreaped worker. */
  get(pid: number): WorkerRecord | undefined {
    return this.#records.get(pid);
  }

  /**
   * Reconciles the pool of `generation` with `target` (see
   * {@link pool.planWorkers}): spawns what is missing, retires what is
   * extra, and stops outgoing workers only as their replacements serve.
   */
  manage(target: number, generation: number, settings: Settings, resources: Resources): void {
    const records = this.records();
    if (this.backoff.failures > 0 && pool.isStable(records, generation, STABLE_MS)) this.backoff.reset();
    const plan = pool.planWorkers(records, target, generation);
    for (const w of plan.replace) this.replace(w, "recycle");
    for (const w of plan.stop) this.kill(w.pid, "SIGTERM");
    if (plan.spawn === 0) return;
    const wait = this.backoff.wait();
    if (wait > 0) return this.#o.timers.wakeIn(wait, () => this.#o.push({ kind: "wakeup" }));
    for (let i = 0; i < plan.spawn; i++) if (!this.spawn(generation, settings, resources)) return;
  }

  /** Starts one worker process and sends it its boot message; null when the system refused. */
  spawn(generation: number, settings: Settings, resources: Resources): WorkerRecord | null {
    const { runtime: rt, app } = this.#o;
    const age = this.#lastAge + 1;
    const listen = resources.listeners.forWorker(age);
    const ids = workerIds(settings);
    this.#files ??= WatchdogFiles.open(rt, resources.dir.path);
    const watchdogFile = this.#files?.pathFor(age) ?? null;
    const boot: WorkerBoot = {
      type: "boot",
      settings,
      app,
      listen,
      ipcPath: resources.ipc.path,
      watchdogFile,
      age,
      ids,
    };
    void callHook(this.#o.hooks, "preFork", { age });
    let child;
    try {
      const argv = [...rt.selfCommand(workerNeeds(settings, app, listen, boot.ipcPath)), WORKER_FLAG];
      // -e/--env: the worker's environment is the master's plus these; systemd's sockets at their numbers.
      const fds = resources.listeners.activated;
      child = rt.spawn(argv, {
        ...(Object.keys(settings.env).length ? { env: settings.env } : {}),
        ...(fds.length ? { fds } : {}),
      });
    } catch (err) {
      // The system would not start a process (EMFILE, EAGAIN, ENOMEM...): later, then.
      this.backingOff(`Cannot start a worker: ${describeError(err)}`);
      return null;
    }
    this.#lastAge = age;
    const worker = pool.newRecord(child, age, generation);
    this.#records.set(child.pid, worker);
    if (watchdogFile !== null) this.#filePaths.set(child.pid, watchdogFile);
    // Its exit is judged after every message it sent (ready, boot_error...): see IpcServer.ended.
    const exit = (status: ChildExit) => {
      worker.exited = true;
      resources.ipc.ended(worker.pid).then(() => this.#o.push({ kind: "exit", pid: worker.pid, status }));
    };
    child.exited.then(exit, () => exit({ code: null, signal: null }));
    child.send(JSON.stringify(boot));
    this.#log.info("Booting worker with pid: {pid}", { pid: child.pid });
    return worker;
  }

  /** Counts a failure to start a worker: the next spawn waits (logged on the 1st, 2nd, 4th... in a row). */
  backingOff(reason: string): void {
    const { delayMs, log } = this.backoff.fail();
    this.#o.metrics.restarted("boot_failure");
    const n = this.backoff.failures;
    if (log) this.#log.error("{reason} ({n} in a row); next try in {ms} ms", { reason, n, ms: delayMs });
    this.#o.timers.wakeIn(delayMs, () => this.#o.push({ kind: "wakeup" }));
  }

  /**
   * Forgets a worker that exited and judges its exit (see
   * {@link judgeExit}); logs a crash. The caller decides what a failed
   * boot means. Null when the pid is not a worker's.
   */
  async reap(pid: number, status: ChildExit): Promise<{ worker: WorkerRecord; verdict: ExitVerdict } | null> {
    const worker = this.#records.get(pid);
    if (!worker) return null;
    this.#records.delete(pid);
    const file = this.#filePaths.get(pid);
    this.#filePaths.delete(pid);
    if (file !== undefined) this.#files?.forget(pid, file);
    this.#o.metrics.exited(pid, worker.heartbeat);
    const { code, signal } = status;
    await callHook(this.#o.hooks, "childExit", { pid, age: worker.age, code, signal });
    const verdict = judgeExit(worker, status);
    if (verdict.kind === "crash" && verdict.early) {
      // It served, then died at once: maybe a crash loop, so the next spawn backs off.
      this.backingOff(
        `Worker (pid:${pid}) ${verdict.how} ${Date.now() - worker.spawnedAt} ms after it started`,
      );
    } else if (verdict.kind === "crash") {
      this.#log.error("Worker (pid:{pid}) {how}", { pid, how: verdict.how });
      if (worker.lastSeen !== Infinity) this.#o.metrics.restarted("crash");
    }
    return { worker, verdict };
  }

  /** A worker is ready; the master reads its watchdog from now on if it mapped its file. */
  ready(worker: WorkerRecord, sharesWatchdog: boolean): void {
    worker.lastSeen = Date.now();
    if (sharesWatchdog) worker.watchdogFile = this.#filePaths.get(worker.pid) ?? null;
  }

  /** Reads the watchdog of every worker that maps its file: each counts as its heartbeat. */
  readWatchdogs(settings: Settings): void {
    if (!this.#files) return;
    for (const worker of this.live()) {
      if (worker.watchdogFile === null) continue;
      const heartbeat = this.#files.read(worker.pid, worker.watchdogFile);
      if (heartbeat !== null) this.observe(heartbeat, settings);
    }
  }

  /** A worker's heartbeat, or its --max-requests notice. */
  observe(message: Extract<WorkerMessage, { type: "heartbeat" | "retire" }>, settings: Settings): void {
    const worker = this.#records.get(message.pid);
    if (!worker) return;
    if (message.type === "retire") {
      if (worker.state !== "serving") return;
      this.#log.info("Worker (pid:{pid}) served {n} requests (--max-requests): recycling", {
        pid: worker.pid,
        n: message.requests,
      });
      return this.replace(worker, "recycle", "max_requests");
    }
    worker.lastSeen = Date.now();
    worker.heartbeat = message;
    this.#o.metrics.observe(message);
    const limitMb = settings.maxWorkerMemory;
    if (limitMb <= 0 || worker.state !== "serving" || message.rss <= limitMb * 1024 * 1024) return;
    this.#log.warning("Worker (pid:{pid}) uses {mb} MB, over --max-worker-memory {limit}: recycling", {
      pid: worker.pid,
      mb: Math.round(message.rss / 1024 / 1024),
      limit: limitMb,
    });
    this.replace(worker, "recycle", "memory");
  }

  /** A serving worker goes outgoing: it serves on until a replacement serves. */
  replace(
    worker: WorkerRecord,
    why: "reload" | "recycle",
    metric?: "reload" | "max_requests" | "memory",
  ): void {
    worker.state = "outgoing";
    worker.replacedFor = why;
    if (metric) this.#o.metrics.restarted(metric);
  }

  /** Kills workers blocked past --timeout, naming what was in flight, and those that overstay their stop. */
  murder(settings: Settings): void {
    const hung = settings.timeout > 0
      ? pool.hungWorkers(this.#records.values(), settings.timeout * 1000)
      : [];
    for (const { worker, blockedMs, inFlight } of hung) {
      this.#log.fatal(
        "WORKER TIMEOUT (pid:{pid}): its event loop has been blocked for {s} s; in flight: {requests}",
        { pid: worker.pid, s: (blockedMs / 1000).toFixed(1), requests: inFlight },
      );
      worker.child.kill("SIGKILL");
      this.#o.metrics.restarted("timeout");
      worker.lastSeen = Infinity; // Killed once; its exit is reaped as a crash and replaced.
    }
    // As in Gunicorn, --timeout bounds a worker's boot too: its failure then says so.
    for (
      const w of settings.timeout > 0
        ? pool.stuckBooting(this.#records.values(), settings.timeout * 1000)
        : []
    ) {
      const s = Math.round((Date.now() - w.spawnedAt) / 1000);
      this.#log.fatal("WORKER TIMEOUT (pid:{pid}): not ready {s} s after it was started (--timeout)", {
        pid: w.pid,
        s,
      });
      w.lastSeen = Infinity;
      w.child.kill("SIGKILL");
    }
    for (const w of pool.overstaying(this.#records.values(), settings.gracefulTimeout * 1000 + OVERSTAY_MS)) {
      this.#log.warning("Worker (pid:{pid}) still running {s} s after it was asked to stop: killing it", {
        pid: w.pid,
        s: Math.round((Date.now() - w.retiredAt) / 1000),
      });
      w.retiredAt = Infinity;
      w.child.kill("SIGKILL");
    }
  }

  /** Sends a signal to one worker; TERM, INT and QUIT retire it (its exit is then no crash). */
  kill(pid: number, signal: Signal): void {
    const worker = this.#records.get(pid);
    if (!worker) return;
    if (
      worker.state !== "retiring" && (signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGQUIT")
    ) {
      worker.state = "retiring";
      worker.retiredAt = Date.now();
    }
    worker.child.kill(signal);
  }

  /** Sends a signal to every worker still running. */
  killAll(signal: Signal): void {
    for (const w of this.live()) this.kill(w.pid, signal);
  }

  /** Stops the workers of `generation` that have not served yet. */
  stopBooting(generation: number): void {
    for (const w of this.live()) {
      if (w.generation === generation && w.state === "booting") this.kill(w.pid, "SIGTERM");
    }
  }
}
