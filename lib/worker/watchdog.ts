/**
 * The worker's side of hang detection and metrics. The main thread records
 * each request in flight, and counts each response, in a SharedArrayBuffer,
 * and stamps a tick there every {@link TICK_MS}; a heartbeat thread reads it
 * and reports to the master. The thread keeps reporting while the main loop
 * is stuck, so the master learns how long the loop has been stuck and which
 * requests were in it: the request that blocked it is named even if it
 * arrived a moment ago. One message a heartbeat, never one a request.
 * @module
 */
import process from "node:process";
import type { ServeInfo } from "../runtime/types.ts";
import { statusOf } from "./front/_responses.ts";
import type { Heartbeat } from "../ipc.ts";

/**
 * Milliseconds since the epoch, from the monotonic clock: one read of
 * performance.now() serves both a request's age and its latency, and a
 * wall-clock step does not age every request at once. The main thread and
 * the heartbeat thread each have their own timeOrigin; both are the epoch
 * time of the same clock.
 */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** How often the main thread stamps its tick. */
export const TICK_MS = 250;
/** Requests recorded individually; more in flight are only counted. */
export const SLOTS = 32;
/** Bytes of "METHOD URL" kept per request. */
export const TEXT_BYTES = 240;
/** Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// Float64 header: tick, requests, overflow, responses by status class
// (1xx..5xx), duration sum, bytes out, heap used, then the histogram
// (one count per bucket and one for +Inf), then per slot a start time
// (0 = free); then Int32 text lengths and the text bytes.
const _TICK = 0;
const _REQUESTS = 1;
const _OVERFLOW = 2;
const _STATUS = 3;
const _DURATION = 8;
const _BYTES = 9;
const _HEAP = 10;
const _HISTOGRAM = 11;
const _TIMES = _HISTOGRAM + LATENCY_BUCKETS.length + 1;
const _LENGTHS_BYTE = (_TIMES + SLOTS) * 8;
const _TEXT_BYTE = _LENGTHS_BYTE + SLOTS * 4;
/** Size of the shared buffer. */
export const BUFFER_BYTES = _TEXT_BYTE + SLOTS * TEXT_BYTES;

/** A request in flight, as the heartbeat reports it. */
export interface InFlight {
  /** `GET http://host/path` (truncated). */
  readonly request: string;
  /** Milliseconds since it started, at the time of the heartbeat. */
  readonly ageMs: number;
}

/** A worker's counters since it booted. */
export interface Counters {
  readonly requests: number;
  /** Responses by status class: index 0 is 1xx ... index 4 is 5xx. */
  readonly statusClasses: readonly number[];
  /** Count per {@link LATENCY_BUCKETS} bucket (not cumulative), then +Inf. */
  readonly histogram: readonly number[];
  readonly durationSeconds: number;
  /** Response body bytes, where the response declared its length. */
  readonly bytes: number;
  readonly heapUsed: number;
}

/** What the heartbeat thread reads out of the shared buffer. */
export interface WatchdogReading extends Counters {
  /** Milliseconds since the main loop last ran its tick. */
  readonly loopLagMs: number;
  readonly inFlight: readonly InFlight[];
  /** In flight beyond the recorded slots. */
  readonly overflow: number;
}

/** The main thread's writer. One per worker process. */
export class Watchdog {
  readonly buffer = new SharedArrayBuffer(BUFFER_BYTES);
  readonly #f64 = new Float64Array(this.buffer);
  readonly #lengths = new Int32Array(this.buffer, _LENGTHS_BYTE, SLOTS);
  readonly #texts: Uint8Array[] = [];
  readonly #free: number[] = [];
  readonly #encoder = new TextEncoder();
  readonly #origin = performance.timeOrigin;
  readonly #countBytes: boolean;
  #ticks = 0;
  /** Requests started since boot. */
  requests = 0;

  /**
   * With `countBytes`, each response's declared Content-Length is added to
   * the bytes counter. Only the metrics show it, and reading a response's
   * headers costs: on Deno it turns off the server's fast path for a static
   * body (measured: 4.9 µs more for a 64 KiB response).
   */
  constructor({ countBytes = true }: { countBytes?: boolean } = {}) {
    this.#countBytes = countBytes;
    for (let i = SLOTS - 1; i >= 0; i--) {
      this.#free.push(i);
      this.#texts[i] = new Uint8Array(this.buffer, _TEXT_BYTE + i * TEXT_BYTES, TEXT_BYTES);
    }
    this.tick();
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return SLOTS - this.#free.length + (this.#f64[_OVERFLOW] ?? 0);
  }

  /** Stamps the main loop's liveness and the request count; the heap once a second. */
  tick(): void {
    this.#f64[_TICK] = clock();
    this.#f64[_REQUESTS] = this.requests;
    if (this.#ticks++ % 4 === 0) this.#f64[_HEAP] = process.memoryUsage().heapUsed;
  }

  /**
   * Records a request that started at `now` (performance.now()); returns
   * its slot, or -1 when all are taken.
   */
  begin(request: Request, now: number): number {
    this.requests++;
    const slot = this.#free.pop();
    if (slot === undefined) {
      (this.#f64[_OVERFLOW] as number)++;
      return -1;
    }
    let text;
    try {
      text = request.method + " " + request.url;
    } catch { // A request the runtime has closed meanwhile: still counted, not named.
      text = "(a request that cannot be read)";
    }
    this.#lengths[slot] = this.#encoder.encodeInto(text, this.#texts[slot] as Uint8Array).written;
    this.#f64[_TIMES + slot] = this.#origin + now;
    return slot;
  }

  /**
   * Forgets a request recorded by {@link begin} and counts its response
   * (null: the handler threw; an upgrade counts as 101, see statusOf).
   */
  end(slot: number, startedAt: number, response: Response | null | undefined, info?: ServeInfo): void {
    const f = this.#f64;
    if (slot < 0) (f[_OVERFLOW] as number)--;
    else {
      f[_TIMES + slot] = 0;
      this.#free.push(slot);
    }
    const seconds = (performance.now() - startedAt) / 1000;
    (f[_DURATION] as number) += seconds;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket++;
    (f[_HISTOGRAM + bucket] as number)++;
    if (response === null) {
      // A thrown handler is answered 500 by the server.
      (f[_STATUS + 4] as number)++;
      return;
    }
    const status = info ? statusOf(response, info) : response === undefined ? 101 : response.status;
    if (typeof status !== "number") {
      // The handler returned something that is no Response: the server answers 500.
      (f[_STATUS + 4] as number)++;
      return;
    }
    (f[_STATUS + (status < 200 ? 0 : status >= 500 ? 4 : ((status / 100) | 0) - 1)] as number)++;
    if (!this.#countBytes || response === undefined) return;
    let length = null;
    try {
      length = response.headers.get("content-length");
    } catch { /* a body the runtime has taken: not counted */ }
    if (length !== null) (f[_BYTES] as number) += Number(length) || 0;
  }
}

/** Reads the shared buffer (from the heartbeat thread). */
export function readWatchdog(buffer: SharedArrayBuffer, now = clock()): WatchdogReading {
  const f64 = new Float64Array(buffer);
  const lengths = new Int32Array(buffer, _LENGTHS_BYTE, SLOTS);
  const decoder = new TextDecoder();
  const inFlight: InFlight[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const started = f64[_TIMES + i] ?? 0;
    if (started === 0) continue;
    const length = Math.min(lengths[i] ?? 0, TEXT_BYTES);
    // Copied out of the shared memory: decode() does not take shared views.
    const text = new Uint8Array(buffer, _TEXT_BYTE + i * TEXT_BYTES, length).slice();
    inFlight.push({ request: decoder.decode(text), ageMs: Math.max(0, now - started) });
  }
  inFlight.sort((a, b) => b.ageMs - a.ageMs);
  return {
    loopLagMs: Math.max(0, now - (f64[_TICK] ?? now)),
    requests: f64[_REQUESTS] ?? 0,
    inFlight,
    overflow: f64[_OVERFLOW] ?? 0,
    statusClasses: Array.from(f64.subarray(_STATUS, _STATUS + 5)),
    histogram: Array.from(f64.subarray(_HISTOGRAM, _TIMES)),
    durationSeconds: f64[_DURATION] ?? 0,
    bytes: f64[_BYTES] ?? 0,
    heapUsed: f64[_HEAP] ?? 0,
  };
}

/** The heartbeat of the worker `pid`, read out of its watchdog's buffer now. */
export function heartbeatOf(buffer: SharedArrayBuffer, pid: number): Heartbeat {
  const reading = readWatchdog(buffer);
  return {
    type: "heartbeat",
    pid,
    ...reading,
    inFlight: reading.inFlight.slice(0, 10),
    rss: process.memoryUsage.rss(),
  };
}
