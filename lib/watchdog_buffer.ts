/**
 * The watchdog's buffer, which a worker's main thread writes (the Watchdog
 * of lib/worker/watchdog.ts) and a reader reads while the main loop may be
 * blocked: the master, from a file both map (lib/master/watchdog_files.ts),
 * or the worker's heartbeat thread. Its layout, and the reader.
 * @module
 */
import { sys } from "./runtime/sys.ts";
import type { Heartbeat } from "./ipc.ts";

/**
 * Milliseconds since the epoch, from the monotonic clock: one read of
 * performance.now() serves both a request's age and its latency, and a
 * wall-clock step does not age every request at once. The main thread and
 * the heartbeat thread each have their own timeOrigin; both are the epoch
 * time of the same clock. (Another process's timeOrigin may be of another
 * wall-clock time: a buffer the master reads uses the machine's monotonic
 * clock instead, see {@link WatchdogOptions.clockBase}.)
 */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** Requests recorded individually; more in flight are only counted. */
export const SLOTS = 32;
/** Bytes of "METHOD URL" kept per request. */
export const TEXT_BYTES = 240;
/** Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// Float64 header: tick, requests, overflow, responses by status class
// (1xx..5xx), duration sum, bytes out, heap used, resident memory, then
// the histogram (one count per bucket and one for +Inf), then per slot a
// start time (0 = free); then Int32 text lengths and the text bytes.
export const AT_TICK = 0;
export const AT_REQUESTS = 1;
export const AT_OVERFLOW = 2;
export const AT_STATUS = 3;
export const AT_DURATION = 8;
export const AT_BYTES = 9;
export const AT_HEAP = 10;
export const AT_RSS = 11;
export const AT_HISTOGRAM = 12;
export const AT_TIMES = AT_HISTOGRAM + LATENCY_BUCKETS.length + 1;
export const AT_LENGTHS_BYTE = (AT_TIMES + SLOTS) * 8;
export const AT_TEXT_BYTE = AT_LENGTHS_BYTE + SLOTS * 4;
/** Size of the shared buffer. */
export const BUFFER_BYTES = AT_TEXT_BYTE + SLOTS * TEXT_BYTES;

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
  /** The process's resident memory at its last tick that measured it (once a second), bytes. */
  readonly rss: number;
}

/**
 * Reads a watchdog's buffer (from the heartbeat thread, or a copy of the
 * file the master reads); `now` on the writer's clock.
 */
export function readWatchdog(buffer: ArrayBufferLike, now = clock()): WatchdogReading {
  const f64 = new Float64Array(buffer, 0, AT_LENGTHS_BYTE / 8);
  const lengths = new Int32Array(buffer, AT_LENGTHS_BYTE, SLOTS);
  const decoder = new TextDecoder();
  const inFlight: InFlight[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const started = f64[AT_TIMES + i] ?? 0;
    if (started === 0) continue;
    const length = Math.min(lengths[i] ?? 0, TEXT_BYTES);
    // Copied out of the shared memory: decode() does not take shared views.
    const text = new Uint8Array(buffer, AT_TEXT_BYTE + i * TEXT_BYTES, length).slice();
    inFlight.push({ request: decoder.decode(text), ageMs: Math.max(0, now - started) });
  }
  inFlight.sort((a, b) => b.ageMs - a.ageMs);
  return {
    loopLagMs: Math.max(0, now - (f64[AT_TICK] ?? now)),
    requests: f64[AT_REQUESTS] ?? 0,
    inFlight,
    overflow: f64[AT_OVERFLOW] ?? 0,
    statusClasses: Array.from(f64.subarray(AT_STATUS, AT_STATUS + 5)),
    histogram: Array.from(f64.subarray(AT_HISTOGRAM, AT_TIMES)),
    durationSeconds: f64[AT_DURATION] ?? 0,
    bytes: f64[AT_BYTES] ?? 0,
    heapUsed: f64[AT_HEAP] ?? 0,
    rss: f64[AT_RSS] ?? 0,
  };
}

/**
 * The heartbeat of the worker `pid`, read out of its watchdog's buffer:
 * `now` on the writer's clock; the resident memory measured now (the
 * thread, in the worker's process) or as the worker's last tick wrote it
 * (the master, reading the worker's file).
 */
export function heartbeatOf(
  buffer: ArrayBufferLike,
  pid: number,
  now = clock(),
  measureRss = true,
): Heartbeat {
  const reading = readWatchdog(buffer, now);
  return {
    type: "heartbeat",
    pid,
    ...reading,
    inFlight: reading.inFlight.slice(0, 10),
    rss: measureRss ? sys.memory().rss : reading.rss,
  };
}
