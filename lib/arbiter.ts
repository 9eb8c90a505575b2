/**
 * The master process. One class whose methods are the words of the docs:
 * spawn, reap, kill, manage workers. Signal listeners only queue the
 * signal; one loop takes events off the queue and reacts.
 * @module
 */
import { platform } from "node:os";
import process from "node:process";
import type { AppSpec } from "./config.ts";
import { CorralError, ExitCode, UsageError } from "./errors.ts";
import { IpcServer, type WorkerBoot, type WorkerMessage } from "./ipc.ts";
import { Listeners } from "./listeners.ts";
import { logger } from "./log.ts";
import type { ChildExit, ChildProcess, Runtime, Signal } from "./runtime/mod.ts";
import type { Settings } from "./settings.ts";
import { readTls } from "./tls.ts";
import { VERSION } from "./version.ts";

/** The argument that makes corral's entry run as a worker. */
export const WORKER_FLAG = "--corral-worker";

/** The master's view of one worker process. */
export interface WorkerRecord {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Spawn order, 1-based; Gunicorn's worker age. */
  readonly age: number;
  readonly spawnedAt: number;
  ready: boolean;
  /** The master asked it to stop: its exit is not a crash. */
  retiring: boolean;
}

type Event =
  | { readonly kind: "signal"; readonly signal: Signal }
  | { readonly kind: "exit"; readonly pid: number; readonly status: ChildExit }
  | { readonly kind: "message"; readonly message: WorkerMessage }
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
  "SIGWINCH",
];

/** Longest wait before a worker that keeps dying at boot is spawned again. */
const MAX_BACKOFF_MS = 10_000;

/** Options of an {@link Arbiter}. */
export interface ArbiterOptions {
  readonly runtime: Runtime;
  readonly settings: Settings;
  readonly app: AppSpec;
}

/** The master: spawns, supervises and stops the workers. */
export class Arbiter {
  readonly workers = new Map<number, WorkerRecord>();
  readonly #rt: Runtime;
  readonly #log = logger("arbiter");
  #settings: Settings;
  readonly #app: AppSpec;
  #numWorkers: number;
  #queue: Event[] = [];
  #wake: (() => void) | null = null;
  #listeners: Listeners | undefined;
  #ipc: IpcServer | undefined;
  #lastAge = 0;
  #bootFailures = 0;
  #respawnAt = 0;
  #announcedReady = false;
  #exitCode: ExitCode | null = null;

  constructor(options: ArbiterOptions) {
    this.#rt = options.runtime;
    this.#settings = options.settings;
    this.#app = options.app;
    this.#numWorkers = options.settings.workers;
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
      const event = await this.#next();
      await this.#dispatch(event);
    }
    return this.#exitCode;
  }

  /** Checks the settings and the addresses, opens the channels, logs the start. */
  async start(): Promise<void> {
    const s = this.#settings;
    const tcp = s.bind.some((a) => a.transport === "tcp");
    if (platform() !== "linux" && s.workers > 1 && tcp) {
      throw new UsageError(
        `Invalid value for -w/--workers: "${s.workers}": on ${platform()}, SO_REUSEPORT does not ` +
          "spread connections between processes; run -w 1 per port (see README: Platforms)",
      );
    }
    const tls = readTls(s);
    this.#log.info("Starting corral {version} ({runtime} {runtimeVersion})", {
      version: VERSION,
      runtime: this.#rt.name,
      runtimeVersion: this.#rt.version,
    });
    this.#listeners = await Listeners.prepare(s.bind, tls !== null, s.workers);
    this.#ipc = await IpcServer.open((message) => this.#push({ kind: "message", message }));
    for (const signal of SIGNALS) this.#rt.onSignal(signal, () => this.#push({ kind: "signal", signal }));
    for (const where of this.#listeners.describe()) {
      this.#log.info("Listening at: {where} ({pid})", { where, pid: process.pid });
    }
    this.#log.info("Using {n} worker{s}", { n: this.#numWorkers, s: this.#numWorkers === 1 ? "" : "s" });
  }

  #push(event: Event): void {
    this.#queue.push(event);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #next(): Promise<Event> {
    const ready = this.#queue.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      this.#wake = () => resolve(this.#queue.shift() ?? { kind: "wakeup" });
    });
  }

  async #dispatch(event: Event): Promise<void> {
    switch (event.kind) {
      case "signal":
        return await this.#handleSignal(event.signal);
      case "exit":
        this.reapWorker(event.pid, event.status);
        break;
      case "message":
        this.#handleMessage(event.message);
        break;
      case "wakeup":
        break;
    }
    if (this.#exitCode === null) this.manageWorkers();
  }

  async #handleSignal(signal: Signal): Promise<void> {
    this.#log.info("Handling signal: {name}", { name: signal.slice(3).toLowerCase() });
    switch (signal) {
      case "SIGTERM":
        return await this.stop(true);
      case "SIGINT":
      case "SIGQUIT":
        return await this.stop(false);
      case "SIGTTIN":
        this.#numWorkers += 1;
        break;
      case "SIGTTOU":
        this.#numWorkers = Math.max(1, this.#numWorkers - 1);
        break;
      default:
        // HUP, USR1, WINCH: caught so they never kill the master.
        break;
    }
    this.manageWorkers();
  }

  #handleMessage(message: WorkerMessage): void {
    const worker = this.workers.get(message.pid);
    if (!worker) return;
    if (message.type === "ready") {
      worker.ready = true;
      this.#bootFailures = 0;
      this.#log.debug("Worker {pid} is ready", { pid: worker.pid });
      if (
        !this.#announcedReady && [...this.workers.values()].filter((w) => w.ready).length >= this.#numWorkers
      ) {
        this.#announcedReady = true;
        this.#log.info("Ready: {n} worker{s} serving", {
          n: this.#numWorkers,
          s: this.#numWorkers === 1 ? "" : "s",
        });
      }
    } else if (message.type === "boot_error") {
      this.halt(message.message, message.code as ExitCode);
    }
  }

  /** Spawns or retires workers until their number is the target. */
  manageWorkers(): void {
    const live = [...this.workers.values()].filter((w) => !w.retiring);
    if (live.length > this.#numWorkers) {
      const oldest = live.sort((a, b) => a.age - b.age).slice(0, live.length - this.#numWorkers);
      for (const w of oldest) this.killWorker(w.pid, "SIGTERM");
    }
    if (live.length < this.#numWorkers) this.spawnWorkers(this.#numWorkers - live.length);
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
    const listeners = this.#listeners as Listeners;
    const boot: WorkerBoot = {
      type: "boot",
      settings: this.#settings,
      app: this.#app,
      listen: listeners.forWorkers,
      ipcPath: (this.#ipc as IpcServer).path,
    };
    const child = this.#rt.spawn([...this.#rt.selfCommand(), WORKER_FLAG], {});
    const worker: WorkerRecord = {
      pid: child.pid,
      child,
      age: ++this.#lastAge,
      spawnedAt: Date.now(),
      ready: false,
      retiring: false,
    };
    this.workers.set(child.pid, worker);
    child.exited.then((status) => this.#push({ kind: "exit", pid: child.pid, status }));
    child.send(JSON.stringify(boot));
    this.#log.info("Booting worker with pid: {pid}", { pid: child.pid });
    return worker;
  }

  /** Forgets a worker that exited; a crash at boot backs off the next spawn. */
  reapWorker(pid: number, status: ChildExit): void {
    const worker = this.workers.get(pid);
    if (!worker) return;
    this.workers.delete(pid);
    if (worker.retiring) return;
    const how = status.signal ? `was sent ${status.signal}` : `exited with code ${status.code}`;
    if (!worker.ready) {
      if (status.code === ExitCode.APP_LOAD_ERROR || status.code === ExitCode.WORKER_BOOT_ERROR) {
        // Its boot_error message, with the reason, may still be on its way.
        const code = status.code;
        setTimeout(() => this.halt(`Worker (pid:${pid}) failed to boot`, code), 250);
        return;
      }
      this.#bootFailures += 1;
      const backoff = Math.min(100 * 2 ** (this.#bootFailures - 1), MAX_BACKOFF_MS);
      this.#respawnAt = Date.now() + backoff;
      if ((this.#bootFailures & (this.#bootFailures - 1)) === 0) {
        this.#log.error("Worker (pid:{pid}) {how} before it was ready ({n} in a row); next try in {ms} ms", {
          pid,
          how,
          n: this.#bootFailures,
          ms: backoff,
        });
      }
      return;
    }
    this.#log.error("Worker (pid:{pid}) {how}", { pid, how });
  }

  /** Sends a signal to one worker; TERM, INT and QUIT mark it as retiring. */
  killWorker(pid: number, signal: Signal): void {
    const worker = this.workers.get(pid);
    if (!worker) return;
    if (signal !== "SIGKILL") worker.retiring = true;
    worker.child.kill(signal);
  }

  /** Sends a signal to every worker. */
  killWorkers(signal: Signal): void {
    for (const pid of [...this.workers.keys()]) this.killWorker(pid, signal);
  }

  /**
   * Stops every worker: TERM lets in-flight requests finish within
   * --graceful-timeout, INT and QUIT stop at once. Stragglers get SIGKILL.
   */
  async stop(graceful: boolean): Promise<void> {
    if (this.#exitCode !== null) return;
    this.#exitCode = ExitCode.OK;
    for (const relay of this.#listeners?.relays ?? []) relay.close();
    this.killWorkers(graceful ? "SIGTERM" : "SIGQUIT");
    const limit = graceful ? this.#settings.gracefulTimeout * 1000 : 2000;
    const all = Promise.all([...this.workers.values()].map((w) => w.child.exited));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), limit)),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#log.warning("Killing {n} worker(s) still running after {s} s", {
        n: this.workers.size,
        s: limit / 1000,
      });
      this.killWorkers("SIGKILL");
      await all;
    }
    this.#cleanup();
    this.#log.info("Shutting down: Master");
  }

  /** Stops everything at once after a fatal error and exits with `code`. */
  halt(reason: string, code: ExitCode): void {
    if (this.#exitCode !== null) return;
    this.#log.error("{reason}", { reason });
    this.#exitCode = code;
    this.killWorkers("SIGKILL");
    this.#cleanup();
    this.#log.info("Shutting down: Master");
  }

  #cleanup(): void {
    this.#listeners?.close();
    this.#ipc?.close();
    this.#listeners = undefined;
    this.#ipc = undefined;
  }
}
