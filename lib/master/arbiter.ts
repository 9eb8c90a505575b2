/**
 * The master process. One class whose methods are the words of the docs:
 * spawn, reap, murder, kill, manage workers; reload; stop; halt. Signal
 * listeners only queue the signal; one loop takes events off the queue,
 * reacts, then reconciles the pool toward its target.
 * @module
 */
import process from "node:process";
import type { AppSpec } from "../config/config.ts";
import { CorralError, describeError, ExitCode } from "../errors.ts";
import { callHook, type Hooks } from "../config/hooks.ts";
import { IpcServer, type WorkerBoot, type WorkerMessage } from "../ipc.ts";
import { checkPlatform, connectionWatchWarning, Listeners, migrateWarning } from "./listeners.ts";
import { Metrics, type Status, type WorkerView } from "./metrics.ts";
import {
  type ControlReply,
  type ControlRequest,
  OperationsServers,
  type OperationsSource,
} from "./operations.ts";
import { logger, reopenLogFiles } from "../log.ts";
import type { ServiceNotifier } from "./notify.ts";
import { Pidfile } from "./pidfile.ts";
import { hungWorkers, planWorkers, poolOf, settlesWithin, type WorkerRecord } from "./pool.ts";
import { EventQueue } from "./event_queue.ts";
import type { ChildExit, Runtime, Signal } from "../runtime/mod.ts";
import type { Settings } from "../config/settings.ts";
import { readTls } from "../tls.ts";
import { Upgrade } from "./upgrade.ts";
import { VERSION } from "../version.ts";
import { workerNeeds } from "./worker_needs.ts";

/** The argument that makes corral's entry run as a worker. */
export const WORKER_FLAG = "--corral-worker";

type Event =
  | { readonly kind: "signal"; readonly signal: Signal }
  | { readonly kind: "exit"; readonly pid: number; readonly status: ChildExit }
  | { readonly kind: "message"; readonly message: WorkerMessage }
  | { readonly kind: "scale"; readonly workers: number }
  | { readonly kind: "wakeup" };

/** Master signals, as Gunicorn's arbiter handles them. */
const SIGNALS: readonly Signal[] = [
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

/** Longest wait before a worker that keeps dying at boot is spawned again. */
const MAX_BACKOFF_MS = 10_000;
/** A worker that dies sooner than this after its spawn counts as a failed boot. */
const STABLE_MS = 3_000;

/** Options of an {@link Arbiter}. */
export interface ArbiterOptions {
  readonly runtime: Runtime;
  readonly settings: Settings;
  readonly app: AppSpec;
  readonly hooks?: Hooks;
  /** Told when the master is ready, reloading and stopping (systemd). */
  readonly notify?: ServiceNotifier;
  /** Reads the settings again for HUP (a config file may have changed). */
  readonly reloadSettings?: () => Promise<Settings>;
  /** The command-line arguments for the new master of a USR2 upgrade (default: this process's). */
  readonly args?: readonly string[];
}

function _plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The master: spawns, supervises, reloads and stops the workers. */
export class Arbiter implements OperationsSource {
  readonly #records = new Map<number, WorkerRecord>();
  readonly metrics = new Metrics();
  readonly #rt: Runtime;
  readonly #log = logger("arbiter");
  readonly #app: AppSpec;
  readonly #hooks: Hooks;
  readonly #options: ArbiterOptions;
  #settings: Settings;
  #numWorkers: number;
  #generation = 1;
  /** The settings a reload in progress falls back to if it fails. */
  #reloading: { readonly generation: number; readonly settings: Settings; readonly workers: number } | null =
    null;
  readonly #queue = new EventQueue<Event>({ kind: "wakeup" });
  #listeners: Listeners | undefined;
  #ipc: IpcServer | undefined;
  #pidfile: Pidfile | undefined;
  #upgrade: Upgrade | undefined;
  #murderTimer: ReturnType<typeof setInterval> | undefined;
  #operations: OperationsServers | undefined;
  #lastAge = 0;
  #bootFailures = 0;
  #respawnAt = 0;
  #everReady = false;
  #haltPending = false;
  #exitCode: ExitCode | null = null;

  constructor(options: ArbiterOptions) {
    this.#options = options;
    this.#rt = options.runtime;
    this.#settings = options.settings;
    this.#app = options.app;
    this.#hooks = options.hooks ?? {};
    this.#numWorkers = options.settings.workers;
  }

  /** The settings in force. */
  get settings(): Readonly<Settings> {
    return this.#settings;
  }

  /** Runs the master until it stops; resolves with the process exit code. */
  async run(): Promise<ExitCode> {
    try {
      await this.start();
    } catch (err) {
      this.#cleanup();
      if (err instanceof CorralError) {
        this.#log.error("{message}", { message: err.message });
        return err.exitCode;
      }
      throw err;
    }
    this.manageWorkers();
    while (this.#exitCode === null) {
      const event = await this.#queue.next();
      await this.#dispatch(event);
    }
    await callHook(this.#hooks, "onExit", this.#settings);
    return this.#exitCode;
  }

  /** Checks the settings and the addresses, opens the channels, logs the start. */
  async start(): Promise<void> {
    const s = this.#settings;
    checkPlatform(s);
    const tls = readTls(s);
    await callHook(this.#hooks, "onStarting", s);
    this.#log.info("Starting corral {version} ({runtime} {runtimeVersion})", {
      version: VERSION,
      runtime: this.#rt.name,
      runtimeVersion: this.#rt.version,
    });
    if (s.pidfile) this.#pidfile = Pidfile.create(s.pidfile);
    const upgrading = Upgrade.oldMasterPid() !== null;
    this.#listeners = await Listeners.prepare(s.bind, tls !== null, s.workers, upgrading);
    this.#ipc = await IpcServer.open((message) => this.#push({ kind: "message", message }));
    for (const signal of SIGNALS) this.#rt.onSignal(signal, () => this.#push({ kind: "signal", signal }));
    for (const where of this.#listeners.describe()) {
      this.#log.info("Listening at: {where} ({pid})", { where, pid: process.pid });
    }
    this.#log.info("Using {n}", { n: _plural(this.#numWorkers, "worker") });
    for (const warning of [migrateWarning(s), connectionWatchWarning(s, this.#rt.connectionWatchProblem())]) {
      if (warning) this.#log.warning("{warning}", { warning });
    }
    if (s.timeout > 0) {
      const every = Math.min(1000, Math.max(100, s.timeout * 250));
      this.#murderTimer = setInterval(() => this.#push({ kind: "wakeup" }), every);
    }
    this.#operations = await OperationsServers.start(this.#rt, s, this);
  }

  /** The workers, as the operations servers see them. */
  workers(): WorkerView[] {
    return [...this.#records.values()];
  }

  /** The number of workers the master aims for. */
  target(): number {
    return this.#numWorkers;
  }

  /** The status page's data. */
  status(): Status {
    return this.metrics.status(this.workers(), {
      version: VERSION,
      runtime: `${this.#rt.name} ${this.#rt.version}`,
      pid: process.pid,
      target: this.#numWorkers,
    });
  }

  /** A control-socket command: carried out by the master's loop, like a signal. */
  control(request: ControlRequest): ControlReply {
    if (this.#exitCode !== null) return { ok: false, error: "The master is stopping" };
    switch (request.command) {
      case "status":
        return { ok: true, message: "status", status: this.status() };
      case "reload":
        this.#push({ kind: "signal", signal: "SIGHUP" });
        return { ok: true, message: "Reloading: new workers start, old ones drain as each new one serves" };
      case "stop":
        this.#push({ kind: "signal", signal: "SIGTERM" });
        return { ok: true, message: "Stopping gracefully" };
      case "scale":
        this.#push({ kind: "scale", workers: request.workers });
        return { ok: true, message: `Scaling to ${request.workers} workers (from ${this.#numWorkers})` };
    }
  }

  #push(event: Event): void {
    this.#queue.push(event);
  }

  async #dispatch(event: Event): Promise<void> {
    switch (event.kind) {
      case "signal":
        await this.#handleSignal(event.signal);
        break;
      case "exit":
        await this.reapWorker(event.pid, event.status);
        break;
      case "message":
        await this.#handleMessage(event.message);
        break;
      case "scale":
        await this.#setNumWorkers(event.workers);
        break;
      case "wakeup":
        break;
    }
    if (this.#exitCode === null) {
      this.murderWorkers();
      this.manageWorkers();
    }
  }

  async #handleSignal(signal: Signal): Promise<void> {
    if (signal !== "SIGWINCH") {
      this.#log.info("Handling signal: {name}", { name: signal.slice(3).toLowerCase() });
    }
    switch (signal) {
      case "SIGTERM":
        return await this.stop(true);
      case "SIGINT":
      case "SIGQUIT":
        return await this.stop(false);
      case "SIGHUP":
        return await this.reload();
      case "SIGTTIN":
        return await this.#setNumWorkers(this.#numWorkers + 1);
      case "SIGTTOU":
        return await this.#setNumWorkers(Math.max(1, this.#numWorkers - 1));
      case "SIGUSR1":
        reopenLogFiles();
        this.killWorkers("SIGUSR1");
        return;
      case "SIGUSR2":
        return this.#startUpgrade();
      case "SIGWINCH":
        return; // Ignored, as the issue asks: no daemon mode to tie it to.
    }
  }

  async #setNumWorkers(n: number): Promise<void> {
    const before = this.#numWorkers;
    if (n === before) return;
    this.#numWorkers = n;
    this.#log.info("Number of workers: {n} (was {before})", { n, before });
    await callHook(this.#hooks, "nworkersChanged", n, before);
  }

  async #handleMessage(message: WorkerMessage): Promise<void> {
    const worker = this.#records.get(message.pid);
    if (!worker) return;
    switch (message.type) {
      case "ready":
        return await this.#workerReady(worker);
      case "boot_error":
        return this.#bootFailed(worker, message.code as ExitCode, message.message);
      case "retire":
        if (!worker.outgoing) {
          this.#log.info("Worker (pid:{pid}) served {n} requests (--max-requests): recycling", {
            pid: worker.pid,
            n: message.requests,
          });
          worker.outgoing = true;
          this.metrics.restarted("max_requests");
        }
        return;
      case "heartbeat":
        worker.lastSeen = Date.now();
        worker.heartbeat = message;
        this.metrics.observe(message);
        this.#checkMemory(worker, message.rss);
        return;
    }
  }

  async #workerReady(worker: WorkerRecord): Promise<void> {
    worker.ready = true;
    worker.lastSeen = Date.now();
    this.#log.debug("Worker (pid:{pid}) is ready", { pid: worker.pid });
    const serving = poolOf(this.#records.values()).filter((w) => w.ready).length;
    if (serving < this.#numWorkers) return;
    if (this.#reloading && worker.generation === this.#reloading.generation) {
      this.#reloading = null;
      this.#log.info("Reloaded: {n} serving", { n: _plural(serving, "new worker") });
      this.#options.notify?.ready();
    }
    if (!this.#everReady) {
      this.#everReady = true;
      this.#options.notify?.ready();
      this.#log.info("Ready: {n} serving", { n: _plural(serving, "worker") });
      await callHook(this.#hooks, "whenReady", this.#settings);
      Upgrade.handOver(this.#log);
    }
  }

  /** Recycles a worker over --max-worker-memory. */
  #checkMemory(worker: WorkerRecord, rss: number): void {
    const limitMb = this.#settings.maxWorkerMemory;
    if (limitMb <= 0 || worker.outgoing || rss <= limitMb * 1024 * 1024) return;
    this.#log.warning("Worker (pid:{pid}) uses {mb} MB, over --max-worker-memory {limit}: recycling", {
      pid: worker.pid,
      mb: Math.round(rss / 1024 / 1024),
      limit: limitMb,
    });
    worker.outgoing = true;
    this.metrics.restarted("memory");
  }

  /** The workers that count toward the target: not outgoing, not stopping. */
  /**
   * Reconciles the pool with its target (see {@link planWorkers}): spawns
   * what is missing, retires what is extra, and stops outgoing workers only
   * as their replacements serve.
   */
  manageWorkers(): void {
    if (this.#haltPending) return;
    const records = [...this.#records.values()];
    const pool = poolOf(records);
    // The crash-loop back-off ends once the whole pool has stayed up.
    if (
      this.#bootFailures > 0 && pool.length > 0 &&
      pool.every((w) => w.ready && Date.now() - w.spawnedAt >= STABLE_MS)
    ) {
      this.#bootFailures = 0;
    }
    const plan = planWorkers(records, this.#numWorkers);
    for (const w of plan.replace) w.outgoing = true;
    for (const w of plan.stop) this.killWorker(w.pid, "SIGTERM");
    if (plan.spawn > 0) this.spawnWorkers(plan.spawn);
  }

  /** Spawns `count` workers, unless a crash-loop back-off is in force. */
  spawnWorkers(count: number): void {
    const wait = this.#respawnAt - Date.now();
    if (wait > 0) {
      setTimeout(() => this.#push({ kind: "wakeup" }), wait);
      return;
    }
    for (let i = 0; i < count; i++) this.spawnWorker();
  }

  /** Starts one worker process and sends it its boot message. */
  spawnWorker(): WorkerRecord {
    const age = ++this.#lastAge;
    void callHook(this.#hooks, "preFork", { age });
    const boot: WorkerBoot = {
      type: "boot",
      settings: this.#settings,
      app: this.#app,
      listen: (this.#listeners as Listeners).forWorkers,
      ipcPath: (this.#ipc as IpcServer).path,
      age,
    };
    const needs = workerNeeds(this.#settings, this.#app, boot.listen, boot.ipcPath);
    const child = this.#rt.spawn([...this.#rt.selfCommand(needs), WORKER_FLAG]);
    const now = Date.now();
    const worker: WorkerRecord = {
      pid: child.pid,
      child,
      age,
      generation: this.#generation,
      spawnedAt: now,
      ready: false,
      outgoing: false,
      retiring: false,
      lastSeen: now,
      heartbeat: null,
    };
    this.#records.set(child.pid, worker);
    child.exited.then((status) => this.#push({ kind: "exit", pid: child.pid, status }));
    child.send(JSON.stringify(boot));
    this.#log.info("Booting worker with pid: {pid}", { pid: child.pid });
    return worker;
  }

  /** Forgets a worker that exited and decides what its exit means. */
  async reapWorker(pid: number, status: ChildExit): Promise<void> {
    const worker = this.#records.get(pid);
    if (this.#upgrade?.pid === pid) return this.#upgrade.exited(status);
    if (!worker) return;
    this.#records.delete(pid);
    this.metrics.exited(pid, worker.heartbeat);
    await callHook(this.#hooks, "childExit", {
      pid,
      age: worker.age,
      code: status.code,
      signal: status.signal,
    });
    if (worker.retiring) return;
    const how = status.signal ? `was sent ${status.signal}` : `exited with code ${status.code}`;
    if (worker.ready && Date.now() - worker.spawnedAt >= STABLE_MS) {
      this.#log.error("Worker (pid:{pid}) {how}", { pid, how });
      if (worker.lastSeen !== Infinity) this.metrics.restarted("crash");
      return;
    }
    if (!worker.ready) {
      if (status.code === ExitCode.APP_LOAD_ERROR || status.code === ExitCode.WORKER_BOOT_ERROR) {
        // Its boot_error message, with the reason, may still be on its way;
        // until then (or the halt), spawn nothing: no respawn loop.
        const code = status.code;
        this.#haltPending = !this.#everReady;
        setTimeout(() => this.#bootFailed(worker, code, `Worker (pid:${pid}) failed to boot`), 250);
        return;
      }
      return this.#bootFailed(worker, null, `Worker (pid:${pid}) ${how} before it was ready`);
    }
    this.#bootFailed(
      worker,
      null,
      `Worker (pid:${pid}) ${how} ${Date.now() - worker.spawnedAt} ms after it started`,
    );
  }

  /**
   * A worker could not boot. On the first start corral halts with its
   * code; in a reload the old workers keep serving; otherwise the next
   * spawn backs off, so a crash loop costs little and logs little.
   */
  #bootFailed(worker: WorkerRecord, code: ExitCode | null, reason: string): void {
    if (this.#exitCode !== null) return;
    // Nothing has served yet: a worker that cannot boot now never will.
    if (!this.#everReady) return this.halt(reason, code ?? ExitCode.WORKER_BOOT_ERROR);
    if (this.#reloading && worker.generation === this.#reloading.generation) {
      return this.#reloadFailed(reason);
    }
    this.#bootFailures += 1;
    this.metrics.restarted("boot_failure");
    const backoff = Math.min(100 * 2 ** (this.#bootFailures - 1), MAX_BACKOFF_MS);
    this.#respawnAt = Date.now() + backoff;
    // 1, 2, 4, 8...: a burst of failures is a handful of lines, not thousands.
    if ((this.#bootFailures & (this.#bootFailures - 1)) === 0) {
      this.#log.error("{reason} ({n} in a row); next try in {ms} ms", {
        reason,
        n: this.#bootFailures,
        ms: backoff,
      });
    }
    this.#killUnready(worker.generation);
  }

  #killUnready(generation: number): void {
    for (const w of this.#records.values()) {
      if (w.generation === generation && !w.ready) this.killWorker(w.pid, "SIGKILL", true);
    }
  }

  /** Kills workers whose event loop has been blocked past --timeout, naming what was in flight. */
  murderWorkers(): void {
    if (this.#settings.timeout <= 0) return;
    for (
      const { worker, blockedMs, inFlight } of hungWorkers(
        this.#records.values(),
        this.#settings.timeout * 1000,
      )
    ) {
      this.#log.fatal(
        "WORKER TIMEOUT (pid:{pid}): its event loop has been blocked for {s} s; in flight: {requests}",
        {
          pid: worker.pid,
          s: (blockedMs / 1000).toFixed(1),
          requests: inFlight,
        },
      );
      this.killWorker(worker.pid, "SIGKILL");
      this.metrics.restarted("timeout");
      worker.lastSeen = Infinity; // Killed once; its exit is reaped as a crash and replaced.
    }
  }

  /** Sends a signal to one worker; TERM, INT and QUIT mark it as retiring. */
  killWorker(pid: number, signal: Signal, retiring = signal !== "SIGKILL" && signal !== "SIGUSR1"): void {
    const worker = this.#records.get(pid);
    if (!worker) return;
    if (retiring) worker.retiring = true;
    worker.child.kill(signal);
  }

  /** Sends a signal to every worker. */
  killWorkers(signal: Signal): void {
    for (const pid of [...this.#records.keys()]) this.killWorker(pid, signal);
  }

  /**
   * HUP: a zero-downtime rolling reload. Reads the settings again, starts
   * a new generation of workers, and drains each old one as a new one
   * serves. If the new generation cannot boot, the old keeps serving.
   */
  async reload(): Promise<void> {
    this.#options.notify?.reloading();
    const previous = { generation: this.#generation, settings: this.#settings, workers: this.#numWorkers };
    let settings = this.#settings;
    if (this.#options.reloadSettings) {
      try {
        settings = await this.#options.reloadSettings();
      } catch (err) {
        this.#log.error("Reload failed: {message}; the workers keep serving", {
          message: describeError(err),
        });
        this.#options.notify?.ready();
        return;
      }
    }
    if (JSON.stringify(settings.bind) !== JSON.stringify(this.#settings.bind)) {
      this.#log.warning("--bind changes take a restart or a USR2 upgrade; keeping {bind}", {
        bind: this.#listeners?.describe().join(", "),
      });
      settings = { ...settings, bind: this.#settings.bind };
    }
    await callHook(this.#hooks, "onReload", settings);
    this.#settings = settings;
    this.#generation += 1;
    this.#reloading = { ...previous, generation: this.#generation };
    this.#bootFailures = 0;
    this.#respawnAt = 0;
    for (const w of this.#records.values()) {
      if (w.outgoing || w.retiring) continue;
      w.outgoing = true;
      this.metrics.restarted("reload");
    }
    // TTIN/TTOU survive a reload, unless the reloaded settings name a new count.
    if (settings.workers !== previous.settings.workers) await this.#setNumWorkers(settings.workers);
    this.#log.info("Reloading: starting {n}", { n: _plural(this.#numWorkers, "new worker") });
  }

  #reloadFailed(reason: string): void {
    const previous = this.#reloading;
    if (!previous) return;
    this.#reloading = null;
    this.#log.error("Reload failed: {reason}; the old workers keep serving", { reason });
    this.#options.notify?.ready();
    this.#killUnready(previous.generation);
    for (const w of this.#records.values()) {
      if (w.generation < previous.generation) w.outgoing = false;
      else if (!w.retiring) this.killWorker(w.pid, "SIGTERM");
    }
    this.#settings = previous.settings;
    this.#numWorkers = previous.workers;
    this.#generation = previous.generation;
  }

  /** USR2: start a new master from the program on disk, beside this one. */
  #startUpgrade(): void {
    if (this.#upgrade?.running) {
      this.#log.warning("An upgrade is already in progress (new master pid {pid})", {
        pid: this.#upgrade.pid,
      });
      return;
    }
    const argv = [...this.#rt.selfCommand(), ...(this.#options.args ?? this.#rt.args)];
    const upgrade = this.#upgrade = Upgrade.start(this.#rt, argv, this.#pidfile, this.#log);
    upgrade.exitStatus.then((status) => this.#push({ kind: "exit", pid: upgrade.pid, status }));
  }

  /**
   * Stops every worker: TERM lets in-flight requests finish within
   * --graceful-timeout, INT and QUIT stop at once. Stragglers get SIGKILL.
   */
  async stop(graceful: boolean): Promise<void> {
    if (this.#exitCode !== null) return;
    this.#exitCode = ExitCode.OK;
    this.#options.notify?.stopping();
    clearInterval(this.#murderTimer);
    for (const relay of this.#listeners?.relays ?? []) relay.close();
    this.killWorkers(graceful ? "SIGTERM" : "SIGQUIT");
    const limit = graceful ? this.#settings.gracefulTimeout * 1000 : 2000;
    const exits = [...this.#records.values()].map((w) => w.child.exited);
    if (!await settlesWithin(exits, limit)) {
      this.#log.warning("Killing {n} still running after {s} s", {
        n: _plural(this.#records.size, "worker"),
        s: limit / 1000,
      });
      this.killWorkers("SIGKILL");
      await Promise.allSettled(exits);
    }
    this.#cleanup();
    this.#log.info("Shutting down: Master");
  }

  /** Stops everything at once after a fatal error and exits with `code`. */
  halt(reason: string, code: ExitCode): void {
    if (this.#exitCode !== null) return;
    this.#log.error("{reason}", { reason });
    this.#exitCode = code;
    this.#options.notify?.stopping();
    this.killWorkers("SIGKILL");
    this.#cleanup();
    this.#log.info("Shutting down: Master");
  }

  #cleanup(): void {
    clearInterval(this.#murderTimer);
    this.#operations?.close();
    // Handed over to a new master (USR2): its sockets now stand at our paths.
    this.#listeners?.close(!this.#upgrade?.handedOver);
    this.#ipc?.close();
    this.#pidfile?.remove();
    this.#listeners = undefined;
    this.#ipc = undefined;
  }
}
