/**
 * The master process: one loop that takes events off a queue (signal
 * listeners, child exits and worker messages only queue one), reacts in
 * Gunicorn's words (reload, stop, halt, handle_ttin...), then reconciles
 * the pool toward its target through its {@link Workers} (spawn, reap,
 * murder, manage, kill). The pool's states and invariant are in
 * lib/master/pool.ts, the reloads' generations in lib/master/generations.ts
 * (docs/RELIABILITY.md draws both).
 * @module
 */
import process from "node:process";
import type { AppSpec } from "../config/config.ts";
import { callHook, type Hooks } from "../config/hooks.ts";
import type { Settings } from "../config/settings.ts";
import { CorralError, describeError, ExitCode } from "../errors.ts";
import type { WorkerMessage } from "../ipc.ts";
import { logger, reopenLogFiles } from "../log.ts";
import type { ChildExit, Runtime, Signal } from "../runtime/mod.ts";
import { readTls } from "../tls.ts";
import { VERSION } from "../version.ts";
import { EventQueue, Timers } from "./event_queue.ts";
import { controlReply, type MasterEvent, plural, SIGNALS } from "./events.ts";
import { Generations } from "./generations.ts";
import { checkPlatform, connectionWatchWarning, migrateWarning } from "./listeners.ts";
import { Metrics, type Status, type WorkerView } from "./metrics.ts";
import type { ServiceNotifier } from "./notify.ts";
import type { ControlReply, ControlRequest, OperationsSource } from "./operations.ts";
import { poolOf, settlesWithin, type WorkerRecord } from "./pool.ts";
import { Resources } from "./resources.ts";
import { Upgrade } from "./upgrade.ts";
import { Workers } from "./workers.ts";

/** How often the master wakes with nothing else to do (to check for hung and overstaying workers). */
const WAKE_MS = 1000;

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

/** The master: spawns, supervises, reloads and stops the workers. */
export class Arbiter implements OperationsSource {
  readonly metrics = new Metrics();
  readonly #rt: Runtime;
  readonly #log = logger("arbiter");
  readonly #options: ArbiterOptions;
  readonly #hooks: Hooks;
  readonly #generations: Generations;
  readonly #queue = new EventQueue<MasterEvent>({ kind: "wakeup" });
  readonly #timers = new Timers();
  readonly #workers: Workers;
  #resources: Resources | undefined;
  #upgrade: Upgrade | undefined;
  #everReady = false;
  #exitCode: ExitCode | null = null;

  constructor(options: ArbiterOptions) {
    this.#options = options;
    this.#rt = options.runtime;
    this.#hooks = options.hooks ?? {};
    this.#generations = new Generations(options.settings);
    this.#workers = new Workers({
      runtime: options.runtime,
      app: options.app,
      hooks: this.#hooks,
      metrics: this.metrics,
      timers: this.#timers,
      push: (event) => this.#push(event),
    });
  }

  /** The settings in force: those of the current generation. */
  get settings(): Readonly<Settings> {
    return this.#generations.current.settings;
  }

  /** Runs the master until it stops; resolves with the process exit code. */
  async run(): Promise<ExitCode> {
    try {
      await this.start();
    } catch (err) {
      this.#cleanup();
      if (!(err instanceof CorralError)) throw err;
      this.#log.error("{message}", { message: err.message });
      return err.exitCode;
    }
    this.manageWorkers();
    while (this.#exitCode === null) {
      const event = await this.#queue.next();
      try {
        await this.#dispatch(event);
      } catch (err) {
        // A bug in the master must not take every worker down with it.
        const fields = { event: event.kind, cause: describeError(err), error: err };
        this.#log.error("Error in the master while handling {event}: {cause}", fields);
      }
    }
    await callHook(this.#hooks, "onExit", this.settings);
    return this.#exitCode;
  }

  /** Checks the settings and the addresses, opens the channels, logs the start. */
  async start(): Promise<void> {
    const s = this.settings;
    if (s.umask !== null) process.umask(s.umask);
    checkPlatform(s);
    const tls = readTls(s);
    await callHook(this.#hooks, "onStarting", s);
    const { name, version } = this.#rt;
    this.#log.info("Starting corral {v} ({name} {version})", { v: VERSION, name, version });
    const onMessage = (message: WorkerMessage) => this.#push({ kind: "message", message });
    const resources = this.#resources = await Resources.open(this.#rt, s, tls !== null, this, onMessage);
    process.on("unhandledRejection", (reason) => {
      const cause = describeError(reason);
      this.#log.error("Unhandled rejection in the master (a bug; it keeps running): {cause}", {
        cause,
        error: reason,
      });
    });
    for (const signal of SIGNALS) this.#rt.onSignal(signal, () => this.#push({ kind: "signal", signal }));
    for (const where of resources.listeners.describe()) {
      this.#log.info("Listening at: {where} ({pid})", { where, pid: process.pid });
    }
    this.#log.info("Using {n}", { n: plural(this.#target, "worker") });
    const inherit = this.#rt.inheritProblem?.();
    for (
      const warning of [
        migrateWarning(s),
        connectionWatchWarning(s, this.#rt.connectionWatchProblem()),
        inherit ? `Workers inherit the master's unix sockets: ${inherit}; see docs/SECURITY.md` : null,
      ]
    ) {
      if (warning) this.#log.warning("{warning}", { warning });
    }
    const wakeMs = s.timeout > 0 ? Math.min(WAKE_MS, Math.max(100, s.timeout * 250)) : WAKE_MS;
    this.#timers.every(wakeMs, () => this.#push({ kind: "wakeup" }));
  }

  get #target(): number {
    return this.#generations.current.workers;
  }

  /** The workers, as the operations servers see them. */
  workers(): WorkerView[] {
    return this.#workers.live();
  }

  /** The number of workers the master aims for. */
  target(): number {
    return this.#target;
  }

  /** The status page's data. */
  status(): Status {
    const runtime = `${this.#rt.name} ${this.#rt.version}`;
    return this.metrics.status(this.workers(), {
      version: VERSION,
      runtime,
      pid: process.pid,
      target: this.#target,
    });
  }

  /** A control-socket command: carried out by the master's loop, like a signal. */
  control(request: ControlRequest): ControlReply {
    if (this.#exitCode !== null) return { ok: false, error: "The master is stopping" };
    return controlReply(request, this.#target, (event) => this.#push(event), () => this.status());
  }

  #push(event: MasterEvent): void {
    this.#queue.push(event);
  }

  async #dispatch(event: MasterEvent): Promise<void> {
    if (event.kind === "signal") await this.#handleSignal(event.signal);
    else if (event.kind === "exit") await this.reapWorker(event.pid, event.status);
    else if (event.kind === "message") this.#handleMessage(event.message);
    else if (event.kind === "scale") await this.#setNumWorkers(event.workers);
    if (this.#exitCode === null) {
      // The workers whose watchdog the master maps send no heartbeats: it reads them at each wake-up.
      if (event.kind === "wakeup") this.#workers.readWatchdogs(this.settings);
      this.#workers.murder(this.settings);
      this.manageWorkers();
      // The unix relays follow the pool: who serves, who stops, who is gone.
      this.#resources?.listeners.track(this.#workers.records());
    }
  }

  async #handleSignal(signal: Signal): Promise<void> {
    if (signal === "SIGWINCH") return; // Ignored: no daemon mode to tie it to.
    this.#log.info("Handling signal: {name}", { name: signal.slice(3).toLowerCase() });
    if (signal === "SIGTERM") await this.stop(true);
    else if (signal === "SIGINT" || signal === "SIGQUIT") await this.stop(false);
    else if (signal === "SIGHUP") await this.reload();
    else if (signal === "SIGTTIN") await this.#setNumWorkers(this.#target + 1);
    else if (signal === "SIGTTOU") await this.#setNumWorkers(Math.max(1, this.#target - 1));
    else if (signal === "SIGUSR2") this.#startUpgrade();
    else if (signal === "SIGUSR1") {
      reopenLogFiles();
      for (const w of this.#workers.live()) w.child.kill("SIGUSR1");
    }
  }

  async #setNumWorkers(n: number): Promise<void> {
    const before = this.#target;
    const refused = this.#resources?.listeners.refusesWorkers(n);
    if (refused) return this.#log.warning("{refused}", { refused });
    if (n === before) return;
    this.#generations.current.workers = n;
    this.#log.info("Number of workers: {n} (was {before})", { n, before });
    await callHook(this.#hooks, "nworkersChanged", n, before);
  }

  #handleMessage(message: WorkerMessage): void {
    if (message.type === "hello") return; // IpcServer's own, never passed on
    const worker = this.#workers.get(message.pid);
    if (!worker) return;
    if (message.type === "ready") {
      this.#workers.ready(worker, message.sharesWatchdog === true);
      this.#workerReady(worker);
    } else if (message.type === "boot_error") {
      this.#bootFailed(worker, message.code as ExitCode, message.message);
    } else this.#workers.observe(message, this.settings);
  }

  #workerReady(worker: WorkerRecord): void {
    if (worker.state !== "booting") return; // Asked to stop meanwhile.
    const current = this.#generations.current.number;
    worker.state = worker.generation === current ? "serving" : "outgoing";
    this.#log.debug("Worker (pid:{pid}) is ready", { pid: worker.pid });
    this.#resources?.listeners.track(this.#workers.records()); // Serving before anyone is told so.
    const serving = poolOf(this.#workers.records(), current).filter((w) => w.state === "serving").length;
    if (serving < this.#target) return;
    if (this.#generations.complete()) {
      this.#log.info("Reloaded: {n} serving", { n: plural(serving, "new worker") });
      this.#options.notify?.ready();
    }
    if (this.#everReady) return;
    this.#everReady = true;
    Upgrade.notifyReady(this.#options.notify);
    this.#log.info("Ready: {n} serving", { n: plural(serving, "worker") });
    void callHook(this.#hooks, "whenReady", this.settings);
    Upgrade.handOver(this.#log);
  }

  /**
   * Reconciles the pool with its target: spawns what is missing, retires
   * what is extra, and stops outgoing workers only as their replacements
   * serve (see {@link Workers.manage}).
   */
  manageWorkers(): void {
    if (this.#exitCode !== null) return;
    const { number, settings } = this.#generations.current;
    this.#workers.manage(this.#target, number, settings, this.#resources as Resources);
  }

  /** Forgets a worker that exited and decides what its exit means. */
  async reapWorker(pid: number, status: ChildExit): Promise<void> {
    if (this.#upgrade?.pid === pid) return this.#upgrade.exited(status);
    const reaped = await this.#workers.reap(pid, status);
    this.#generations.prune(this.#workers.records().map((w) => w.generation));
    if (!reaped || this.#exitCode !== null) return;
    const { worker, verdict } = reaped;
    // Its messages came first (IpcServer.ended): a boot_error exit not yet
    // reported by its message never will be, so it is reported without.
    if (verdict.kind === "boot_failure") this.#bootFailed(worker, null, verdict.reason);
    else if (verdict.kind === "boot_error") this.#bootFailed(worker, verdict.code, verdict.reason);
  }

  /**
   * A worker could not boot. On the first start corral halts with its
   * code; in a reload the workers that serve keep serving; otherwise the
   * next spawn backs off and the others booting in its generation stop.
   */
  #bootFailed(worker: WorkerRecord, code: ExitCode | null, reason: string): void {
    if (worker.bootFailed || this.#exitCode !== null) return;
    worker.bootFailed = true;
    // Nothing has served yet: a worker that cannot boot now never will.
    if (!this.#everReady) return this.halt(reason, code ?? ExitCode.WORKER_BOOT_ERROR);
    if (this.#generations.failsReload(worker.generation)) return this.#reloadFailed(reason);
    this.#workers.backingOff(reason);
    this.#workers.stopBooting(worker.generation);
  }

  /**
   * HUP: a zero-downtime rolling reload. Reads the settings again and
   * starts a new generation; every worker that serves goes outgoing and
   * serves on until a new one serves in its place. A reload still pending
   * is superseded: its workers that have not served yet are stopped.
   */
  async reload(): Promise<void> {
    this.#options.notify?.reloading();
    const before = this.#generations.current;
    let settings = before.settings;
    try {
      settings = await this.#options.reloadSettings?.() ?? settings;
    } catch (err) {
      this.#log.error("Reload failed: {message}; the workers keep serving", { message: describeError(err) });
      if (!this.#generations.pending) this.#options.notify?.ready();
      return;
    }
    if (JSON.stringify(settings.bind) !== JSON.stringify(before.settings.bind)) {
      const bind = this.#resources?.listeners.describe().join(", ");
      this.#log.warning("--bind changes take a restart or a USR2 upgrade; keeping {bind}", { bind });
      settings = { ...settings, bind: before.settings.bind };
    }
    await callHook(this.#hooks, "onReload", settings);
    // TTIN/TTOU survive a reload, unless the reloaded settings name a new count.
    let workers = settings.workers !== before.settings.workers ? settings.workers : before.workers;
    if (this.#resources?.listeners.refusesWorkers(workers)) workers = before.workers;
    const { replace, stop } = this.#generations.begin(settings, workers, this.#workers.records());
    this.#workers.backoff.reset();
    for (const w of replace) this.#workers.replace(w, "reload", "reload");
    for (const w of stop) this.#workers.kill(w.pid, "SIGTERM");
    if (workers !== before.workers) {
      this.#log.info("Number of workers: {n} (was {before})", { n: workers, before: before.workers });
      await callHook(this.#hooks, "nworkersChanged", workers, before.workers);
    }
    this.#log.info("Reloading: starting {n}", { n: plural(workers, "new worker") });
  }

  /** The pending reload's workers cannot boot: fall back (see {@link Generations.fail}). */
  #reloadFailed(reason: string): void {
    const fallback = this.#generations.fail(this.#workers.records());
    this.#log.error("Reload failed: {reason}; the old workers keep serving", { reason });
    this.#options.notify?.ready();
    for (const w of fallback.stop) this.#workers.kill(w.pid, "SIGTERM");
    for (const w of fallback.replace) this.#workers.replace(w, "reload");
    for (const w of fallback.resume) {
      w.state = "serving";
      w.replacedFor = null;
    }
    if (!fallback.restored) this.#workers.backingOff(reason);
  }

  /** USR2: start a new master from the program on disk, beside this one. */
  #startUpgrade(): void {
    const { pidfile, dir, listeners } = this.#resources as Resources;
    const argv = [...this.#rt.selfCommand(), ...(this.#options.args ?? this.#rt.args)];
    const own = { pidfile, dir: dir.path, fds: listeners.activated, current: this.#upgrade };
    const upgrade = Upgrade.start(this.#rt, argv, this.#log, own);
    if (!upgrade) return;
    this.#upgrade = upgrade;
    upgrade.exitStatus.then((status) => this.#push({ kind: "exit", pid: upgrade.pid, status }));
  }

  /**
   * Stops every worker: TERM lets in-flight requests finish within
   * --graceful-timeout, INT and QUIT stop at once. Stragglers get SIGKILL.
   */
  async stop(graceful: boolean): Promise<void> {
    if (this.#exitCode !== null) return;
    this.#exitCode = ExitCode.OK;
    Upgrade.notifyStopping(this.#upgrade, this.#options.notify);
    this.#timers.clear();
    for (const relay of this.#resources?.listeners.relays ?? []) relay.close();
    this.#workers.killAll(graceful ? "SIGTERM" : "SIGQUIT");
    const limit = graceful ? this.settings.gracefulTimeout * 1000 : 2000;
    if (!await settlesWithin(this.#workers.live().map((w) => w.child.exited), limit)) {
      const left = this.#workers.live();
      this.#log.warning("Killing {n} still running after {s} s", {
        n: plural(left.length, "worker"),
        s: limit / 1000,
      });
      for (const w of left) w.child.kill("SIGKILL");
      await Promise.allSettled(left.map((w) => w.child.exited));
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
    for (const w of this.#workers.live()) w.child.kill("SIGKILL");
    this.#cleanup();
    this.#log.info("Shutting down: Master");
  }

  #cleanup(): void {
    this.#timers.clear();
    // Handed over to a new master (USR2): its sockets now stand at our paths.
    this.#resources?.close(this.#upgrade?.handedOver ?? false);
  }
}
