/**
 * The worker pool's records and the master's pure decisions about them:
 * how many to spawn, which to stop (rolling), which are hung. The arbiter
 * carries the decisions out; keeping them pure keeps them testable.
 * @module
 */
import type { Heartbeat } from "../ipc.ts";
import type { ChildProcess } from "../runtime/mod.ts";

/** The master's view of one worker process. */
export interface WorkerRecord {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Spawn order, 1-based; Gunicorn's worker age. */
  readonly age: number;
  /** Settings generation: a HUP reload starts a new one. */
  readonly generation: number;
  readonly spawnedAt: number;
  ready: boolean;
  /** To be replaced (reload, --max-requests, memory): stopped once its replacement serves. */
  outgoing: boolean;
  /** The master asked it to stop: its exit is not a crash. */
  retiring: boolean;
  /** When the master last heard from its heartbeat thread (Infinity once killed as hung). */
  lastSeen: number;
  heartbeat: Heartbeat | null;
}

/** What {@link planWorkers} decides. */
export interface Plan {
  /** Workers to spawn now. */
  readonly spawn: number;
  /** Serving workers to replace: mark outgoing. */
  readonly replace: readonly WorkerRecord[];
  /** Workers to stop now (TERM). */
  readonly stop: readonly WorkerRecord[];
}

/** The workers that count toward the target: not outgoing, not stopping. */
export function poolOf(records: Iterable<WorkerRecord>): WorkerRecord[] {
  return [...records].filter((w) => !w.outgoing && !w.retiring);
}

/**
 * Reconciles the pool with its target: spawn what is missing; of extra
 * workers, stop those not serving yet and replace serving ones, oldest
 * first; stop outgoing workers only as replacements serve (rolling), so
 * the pool never drops below what serves.
 */
export function planWorkers(records: readonly WorkerRecord[], target: number): Plan {
  const pool = poolOf(records);
  const stop: WorkerRecord[] = [];
  const replace: WorkerRecord[] = [];
  if (pool.length > target) {
    const extra = [...pool].sort((a, b) => Number(a.ready) - Number(b.ready) || a.age - b.age)
      .slice(0, pool.length - target);
    for (const w of extra) (w.ready ? replace : stop).push(w);
  }
  const staying = pool.filter((w) => !replace.includes(w) && !stop.includes(w));
  const serving = staying.filter((w) => w.ready).length;
  const outgoing = records.filter((w) => (w.outgoing || replace.includes(w)) && !w.retiring)
    .sort((a, b) => a.age - b.age);
  const keep = Math.max(0, target - serving);
  stop.push(...outgoing.slice(0, Math.max(0, outgoing.length - keep)));
  return { spawn: Math.max(0, target - pool.length), replace, stop };
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
    if (!worker.ready || worker.lastSeen === Infinity || worker.retiring) continue;
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
