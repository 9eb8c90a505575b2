/**
 * The worker pool's records and the master's pure decisions about them.
 * Every worker is in one {@link WorkerState}; {@link planWorkers} decides,
 * from the records alone, what to spawn, what to replace and what to stop,
 * so that one invariant holds (docs/RELIABILITY.md, "The pool's states"):
 *
 * **A worker that serves keeps accepting until a replacement serves.**
 * Only workers that serve are ever marked outgoing; an outgoing worker is
 * stopped only when a worker of the current generation serves in its
 * place; a worker that never served is never what stands between the
 * clients and a refused connection.
 *
 * The arbiter carries the decisions out; keeping them pure keeps them
 * testable.
 * @module
 */
import type { Heartbeat } from "../ipc.ts";
import type { ChildProcess } from "../runtime/mod.ts";

/**
 * Where a worker is in its life:
 * - `booting`: spawned, loading the app; not yet serving.
 * - `serving`: serving, one of the pool the master aims for.
 * - `outgoing`: serving, but to be replaced (a reload, --max-requests,
 *   --max-worker-memory, one too many after TTOU): stopped once a
 *   replacement serves.
 * - `retiring`: asked to stop (TERM, or SIGKILL when hung); its exit is
 *   expected and is not a crash.
 */
export type WorkerState = "booting" | "serving" | "outgoing" | "retiring";

/** The master's view of one worker process. */
export interface WorkerRecord {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Spawn order, 1-based; Gunicorn's worker age. */
  readonly age: number;
  /** Settings generation: a HUP reload starts a new one. */
  readonly generation: number;
  readonly spawnedAt: number;
  state: WorkerState;
  /** Why it is outgoing: a reload's, or a recycling (--max-requests, memory, TTOU). */
  replacedFor: "reload" | "recycle" | null;
  /** When it was asked to stop (0: not yet); Infinity once killed for overstaying. */
  retiredAt: number;
  /** Its failure to boot has been handled (it is reported by message and by exit). */
  bootFailed: boolean;
  /** The process has exited (its exit event may still wait in the master's queue). */
  exited: boolean;
  /** When the master last heard from its heartbeat thread, or read its watchdog (Infinity once killed as hung). */
  lastSeen: number;
  heartbeat: Heartbeat | null;
  /** The file the master reads its watchdog from, once it said it maps it; else null (its thread reports). */
  watchdogFile: string | null;
}

/** What {@link planWorkers} decides. */
export interface Plan {
  /** Workers to spawn now, in the current generation. */
  readonly spawn: number;
  /** Serving workers to replace: mark outgoing. */
  readonly replace: readonly WorkerRecord[];
  /** Workers to stop now (TERM): outgoing ones whose replacements serve, and extra booting ones. */
  readonly stop: readonly WorkerRecord[];
}

/** The record of a worker just spawned. */
export function newRecord(
  child: ChildProcess,
  age: number,
  generation: number,
  now = Date.now(),
): WorkerRecord {
  return {
    pid: child.pid,
    child,
    age,
    generation,
    spawnedAt: now,
    state: "booting",
    replacedFor: null,
    retiredAt: 0,
    bootFailed: false,
    exited: false,
    lastSeen: now,
    heartbeat: null,
    watchdogFile: null,
  };
}

/** Whether a worker takes connections now. */
export function accepting(w: WorkerRecord): boolean {
  return !w.exited && (w.state === "serving" || w.state === "outgoing");
}

/** The workers of `generation` that count toward the target: booting or serving. */
export function poolOf(records: Iterable<WorkerRecord>, generation: number): WorkerRecord[] {
  return [...records].filter((w) =>
    !w.exited && w.generation === generation && (w.state === "booting" || w.state === "serving")
  );
}

/**
 * Reconciles the pool with its target: spawn what the current generation
 * misses; of its extra workers, stop those that do not serve yet and
 * replace serving ones, oldest first; stop outgoing workers only as
 * workers of the current generation serve in their place, oldest first,
 * so the workers accepting connections never drop below what served.
 */
export function planWorkers(records: readonly WorkerRecord[], target: number, generation: number): Plan {
  const pool = poolOf(records, generation);
  const stop: WorkerRecord[] = [];
  const replace: WorkerRecord[] = [];
  if (pool.length > target) {
    const extra = [...pool].sort((a, b) =>
      Number(a.state === "serving") - Number(b.state === "serving") || a.age - b.age
    ).slice(0, pool.length - target);
    for (const w of extra) (w.state === "serving" ? replace : stop).push(w);
  }
  const serving = pool.filter((w) => w.state === "serving" && !replace.includes(w)).length;
  const outgoing = records.filter((w) => !w.exited && (w.state === "outgoing" || replace.includes(w)))
    .sort((a, b) => b.age - a.age);
  // The youngest outgoing workers keep serving while the new ones are too few.
  const keep = Math.max(0, target - serving);
  stop.push(...outgoing.slice(keep));
  return { spawn: Math.max(0, target - pool.length), replace, stop };
}

/**
 * The workers a HUP supersedes: those that serve go outgoing (they serve
 * until the new generation does); those still booting, of a reload that
 * had not finished, are stopped, since they never served.
 */
export function supersede(
  records: Iterable<WorkerRecord>,
): { replace: WorkerRecord[]; stop: WorkerRecord[] } {
  const replace: WorkerRecord[] = [];
  const stop: WorkerRecord[] = [];
  for (const w of records) {
    if (w.exited) continue;
    if (w.state === "serving") replace.push(w);
    else if (w.state === "booting") stop.push(w);
  }
  return { replace, stop };
}

/** Whether every worker the current generation counts serves, and has for `stableMs`. */
export function isStable(
  records: Iterable<WorkerRecord>,
  generation: number,
  stableMs: number,
  now = Date.now(),
) {
  const pool = poolOf(records, generation);
  return pool.length > 0 && pool.every((w) => w.state === "serving" && now - w.spawnedAt >= stableMs);
}

/**
 * Workers still booting `ms` after their spawn (not killed for it yet): an
 * app that never finishes loading, or a worker stuck before it could say it
 * serves. Left alone, a reload would wait for it for ever.
 */
export function stuckBooting(records: Iterable<WorkerRecord>, ms: number, now = Date.now()): WorkerRecord[] {
  return [...records].filter((w) =>
    !w.exited && w.state === "booting" && w.lastSeen !== Infinity && w.spawnedAt < now - ms
  );
}

/** Workers asked to stop more than `ms` ago and still running (not killed for it yet). */
export function overstaying(records: Iterable<WorkerRecord>, ms: number, now = Date.now()): WorkerRecord[] {
  return [...records].filter((w) => !w.exited && w.state === "retiring" && w.retiredAt < now - ms);
}

/** A worker whose event loop has been blocked past the timeout. */
export interface Hung {
  readonly worker: WorkerRecord;
  readonly blockedMs: number;
  /** The requests that were in it: `GET http://h/p (31.2 s), ...`, or "no request". */
  readonly inFlight: string;
}

/**
 * The serving workers blocked longer than `timeoutMs`: by the loop lag
 * their heartbeat thread reported, plus the silence since (a frozen or
 * dead thread counts too).
 */
export function hungWorkers(records: Iterable<WorkerRecord>, timeoutMs: number, now = Date.now()): Hung[] {
  const hung: Hung[] = [];
  for (const worker of records) {
    if (!accepting(worker) || worker.lastSeen === Infinity) continue;
    const silent = now - worker.lastSeen;
    const blockedMs = (worker.heartbeat?.loopLagMs ?? 0) + silent;
    if (blockedMs <= timeoutMs) continue;
    const requests = (worker.heartbeat?.inFlight ?? []).map((r) =>
      `${r.request} (${((r.ageMs + silent) / 1000).toFixed(1)} s)`
    );
    const more = worker.heartbeat?.overflow ? ` and ${worker.heartbeat.overflow} more` : "";
    hung.push({ worker, blockedMs, inFlight: requests.length ? requests.join(", ") + more : "no request" });
  }
  return hung;
}

/** Resolves true when all promises settle within `ms`, false at the deadline. */
export async function settlesWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = await Promise.race([
    Promise.allSettled(promises).then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]);
  clearTimeout(timer);
  return done;
}
