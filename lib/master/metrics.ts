/**
 * The master's aggregate of its workers' heartbeats: Prometheus text, the
 * status page's data and the control socket's worker table. Counters of
 * workers that exited are kept, so totals never go down.
 * @module
 */
import type { Heartbeat } from "../ipc.ts";
import { LATENCY_BUCKETS } from "../watchdog_buffer.ts";
import type { WorkerState } from "./pool.ts";

/** Why the master replaced a worker. */
export type RestartReason = "crash" | "boot_failure" | "timeout" | "max_requests" | "memory" | "reload";

/** What the master knows of one worker, for the status table. */
export interface WorkerView {
  readonly pid: number;
  readonly age: number;
  readonly spawnedAt: number;
  readonly state: WorkerState;
  readonly heartbeat: Heartbeat | null;
}

/** One row of the worker table. */
export interface WorkerRow {
  readonly pid: number;
  readonly age: number;
  readonly uptimeSeconds: number;
  readonly state: "booting" | "serving" | "replacing" | "stopping";
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly inFlight: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

/** The status page's data. */
export interface Status {
  readonly pid: number;
  readonly version: string;
  readonly runtime: string;
  readonly startedAt: number;
  readonly targetWorkers: number;
  readonly workers: readonly WorkerRow[];
  readonly requests: number;
  readonly restarts: Record<string, number>;
  /** Requests per second, one point a second, oldest first. */
  readonly history: readonly { readonly t: number; readonly rps: number }[];
}

const _HISTORY = 120;

const _STATES: Record<WorkerState, WorkerRow["state"]> = {
  booting: "booting",
  serving: "serving",
  outgoing: "replacing",
  retiring: "stopping",
};

function _state(w: WorkerView): WorkerRow["state"] {
  return _STATES[w.state];
}

/** Sums of counters, by status class and latency bucket. */
class _Totals {
  statusClasses = [0, 0, 0, 0, 0];
  histogram: number[] = new Array(LATENCY_BUCKETS.length + 1).fill(0);
  durationSeconds = 0;
  bytes = 0;

  add(hb: Heartbeat): this {
    hb.statusClasses.forEach((n, i) => this.statusClasses[i] = (this.statusClasses[i] ?? 0) + n);
    hb.histogram.forEach((n, i) => this.histogram[i] = (this.histogram[i] ?? 0) + n);
    this.durationSeconds += hb.durationSeconds;
    this.bytes += hb.bytes;
    return this;
  }

  plus(other: _Totals): _Totals {
    const out = new _Totals();
    out.statusClasses = this.statusClasses.map((n, i) => n + (other.statusClasses[i] ?? 0));
    out.histogram = this.histogram.map((n, i) => n + (other.histogram[i] ?? 0));
    out.durationSeconds = this.durationSeconds + other.durationSeconds;
    out.bytes = this.bytes + other.bytes;
    return out;
  }

  get answered(): number {
    return this.statusClasses.reduce((a, b) => a + b, 0);
  }
}

/** The master's metrics. */
export class Metrics {
  readonly #startedAt = Date.now();
  readonly #exited = new _Totals();
  readonly #restarts = new Map<RestartReason, number>();
  readonly #rates = new Map<number, { requests: number; at: number; rate: number }>();
  readonly #history: { t: number; rps: number }[] = [];
  #lastTotal: number | null = null;

  /** Records a heartbeat; keeps a per-worker request rate. */
  observe(hb: Heartbeat, now = Date.now()): void {
    const prev = this.#rates.get(hb.pid);
    const rate = prev && now > prev.at ? ((hb.requests - prev.requests) * 1000) / (now - prev.at) : 0;
    this.#rates.set(hb.pid, { requests: hb.requests, at: now, rate: Math.max(0, rate) });
  }

  /** A worker exited: its last counters join the totals of exited workers. */
  exited(pid: number, last: Heartbeat | null): void {
    if (last) this.#exited.add(last);
    this.#rates.delete(pid);
  }

  /** The master replaced (or is replacing) a worker. */
  restarted(reason: RestartReason): void {
    this.#restarts.set(reason, (this.#restarts.get(reason) ?? 0) + 1);
  }

  #totals(workers: readonly WorkerView[]): _Totals {
    const live = new _Totals();
    for (const w of workers) if (w.heartbeat) live.add(w.heartbeat);
    return live.plus(this.#exited);
  }

  /** Takes one point of the requests-per-second history; call once a second. */
  sample(workers: readonly WorkerView[], now = Date.now()): void {
    const total = this.#totals(workers).answered;
    if (this.#lastTotal !== null) {
      this.#history.push({ t: now, rps: Math.max(0, total - this.#lastTotal) });
      if (this.#history.length > _HISTORY) this.#history.shift();
    }
    this.#lastTotal = total;
  }

  /** The worker table, oldest first. */
  rows(workers: readonly WorkerView[], now = Date.now()): WorkerRow[] {
    return [...workers].sort((a, b) => a.age - b.age).map((w) => ({
      pid: w.pid,
      age: w.age,
      uptimeSeconds: Math.round((now - w.spawnedAt) / 1000),
      state: _state(w),
      requests: w.heartbeat?.requests ?? 0,
      requestsPerSecond: Math.round((this.#rates.get(w.pid)?.rate ?? 0) * 10) / 10,
      inFlight: (w.heartbeat?.inFlight.length ?? 0) + (w.heartbeat?.overflow ?? 0),
      rssBytes: w.heartbeat?.rss ?? 0,
      heapUsedBytes: w.heartbeat?.heapUsed ?? 0,
    }));
  }

  /** Everything the status page shows. */
  status(
    workers: readonly WorkerView[],
    info: { version: string; runtime: string; pid: number; target: number },
  ): Status {
    return {
      pid: info.pid,
      version: info.version,
      runtime: info.runtime,
      startedAt: this.#startedAt,
      targetWorkers: info.target,
      workers: this.rows(workers),
      requests: this.#totals(workers).answered,
      restarts: Object.fromEntries(this.#restarts),
      history: [...this.#history],
    };
  }

  /** The Prometheus text exposition (format 0.0.4). */
  prometheus(workers: readonly WorkerView[], target: number): string {
    const t = this.#totals(workers);
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric(
      "corral_requests_total",
      "counter",
      "Requests answered, by status class.",
      t.statusClasses.map((n, i) => `corral_requests_total{status="${i + 1}xx"} ${n}`),
    );
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS.map((le, i) => {
      cumulative += t.histogram[i] ?? 0;
      return `corral_request_duration_seconds_bucket{le="${le}"} ${cumulative}`;
    });
    cumulative += t.histogram[LATENCY_BUCKETS.length] ?? 0;
    metric("corral_request_duration_seconds", "histogram", "Time from request to response headers.", [
      ...buckets,
      `corral_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`,
      `corral_request_duration_seconds_sum ${t.durationSeconds}`,
      `corral_request_duration_seconds_count ${cumulative}`,
    ]);
    metric("corral_response_bytes_total", "counter", "Response body bytes (declared Content-Length).", [
      `corral_response_bytes_total ${t.bytes}`,
    ]);
    const rows = this.rows(workers);
    metric("corral_in_flight_requests", "gauge", "Requests in flight in all workers.", [
      `corral_in_flight_requests ${rows.reduce((a, r) => a + r.inFlight, 0)}`,
    ]);
    metric("corral_workers", "gauge", "Worker processes, by state.", [
      ...(["booting", "serving", "replacing", "stopping"] as const).map((s) =>
        `corral_workers{state="${s}"} ${rows.filter((r) => r.state === s).length}`
      ),
    ]);
    metric("corral_workers_target", "gauge", "The number of workers the master aims for.", [
      `corral_workers_target ${target}`,
    ]);
    const reasons: RestartReason[] = ["crash", "boot_failure", "timeout", "max_requests", "memory", "reload"];
    metric(
      "corral_worker_restarts_total",
      "counter",
      "Workers replaced, by reason.",
      reasons.map((r) => `corral_worker_restarts_total{reason="${r}"} ${this.#restarts.get(r) ?? 0}`),
    );
    metric(
      "corral_worker_rss_bytes",
      "gauge",
      "Resident memory of each worker.",
      rows.map((r) => `corral_worker_rss_bytes{pid="${r.pid}",age="${r.age}"} ${r.rssBytes}`),
    );
    metric(
      "corral_worker_heap_used_bytes",
      "gauge",
      "JavaScript heap in use in each worker.",
      rows.map((r) => `corral_worker_heap_used_bytes{pid="${r.pid}",age="${r.age}"} ${r.heapUsedBytes}`),
    );
    return out.join("\n") + "\n";
  }
}
