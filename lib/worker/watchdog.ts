/**
 * The worker's side of hang detection and metrics. The main thread records
 * each request in flight, and counts each response, in a buffer shared
 * with a reader, and stamps a tick there every {@link TICK_MS}. The reader
 * is the master itself, where the runtime can map a file shared between
 * the two processes (lib/master/watchdog_files.ts), else a heartbeat thread that
 * reports to the master (heartbeat.ts). Either reads on while the main loop
 * is stuck, so the master learns how long the loop has been stuck and which
 * requests were in it: the request that blocked it is named even if it
 * arrived a moment ago. Never a message per request.
 *
 * Unless responses are counted (the metrics, `corral ctl`), a request is
 * not timed: its start is the time of the main loop's last tick, read
 * without a clock call (on Deno that read cost 0.21 µs a request on hello
 * world: docs/BENCHMARKS.md, "Issue #17, sixth"). Its age is then over by
 * the time between that tick and its arrival, at most {@link TICK_MS} while
 * the loop runs freely; for the request that blocked the loop, the age shown
 * is the time since the loop last ticked, as the loop lag is.
 * @module
 */
import { responseLength } from "../runtime/response_length.ts";
import { sys } from "../runtime/sys.ts";
import type { ServeInfo } from "../runtime/types.ts";
import { statusOf } from "./front/_responses.ts";
import {
  AT_BYTES,
  AT_DURATION,
  AT_HEAP,
  AT_HISTOGRAM,
  AT_LENGTHS_BYTE,
  AT_OVERFLOW,
  AT_REQUESTS,
  AT_RSS,
  AT_STATUS,
  AT_TEXT_BYTE,
  AT_TICK,
  AT_TIMES,
  BUFFER_BYTES,
  LATENCY_BUCKETS,
  SLOTS,
  TEXT_BYTES,
} from "../watchdog_buffer.ts";

/** How often the main thread stamps its tick. */
export const TICK_MS = 250;

/** Options of a {@link Watchdog}. */
export interface WatchdogOptions {
  /**
   * Count each response (status classes, the latency histogram, their
   * duration). Only the metrics and `corral ctl` show them; without either,
   * a request's end only frees its slot, without a second clock read.
   */
  readonly countResponses?: boolean;
  /**
   * Add each response's declared Content-Length to the bytes counter. Only
   * the metrics show it, and reading a response's headers costs: on Deno it
   * turns off the server's fast path for a static body (measured: 4.9 µs
   * more for a 64 KiB response), which runtime/response_length.ts spares
   * where it can.
   */
  readonly countBytes?: boolean;
  /** The memory to write in, {@link BUFFER_BYTES} long: a file the master maps too; else a SharedArrayBuffer. */
  readonly buffer?: ArrayBuffer;
  /**
   * What performance.now() is added to for the times written: this
   * process's timeOrigin (the epoch) by default; the machine's monotonic
   * clock minus performance.now() when another process reads the buffer,
   * so that both count time alike.
   */
  readonly clockBase?: number;
}

/**
 * Copies `text` into `bytes` from `at`, as far as it fits; returns where it
 * ended, or -1 at a character that is not ASCII (`bytes` then holds a part).
 */
function _ascii(text: string, bytes: Uint8Array, at: number): number {
  const end = Math.min(text.length, bytes.length - at);
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code > 127) return -1;
    bytes[at + i] = code;
  }
  return at + end;
}

/** The main thread's writer. One per worker process. */
export class Watchdog {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly #f64: Float64Array;
  readonly #lengths: Int32Array;
  readonly #texts: Uint8Array[] = [];
  readonly #free: number[] = [];
  readonly #encoder = new TextEncoder();
  readonly #origin: number;
  readonly #countBytes: boolean;
  readonly #countResponses: boolean;
  #ticks = 0;
  /** performance.now() at the last {@link tick}. */
  #tickedAt = 0;
  /** Requests started since boot. */
  requests = 0;

  constructor(options: WatchdogOptions = {}) {
    this.buffer = options.buffer ?? new SharedArrayBuffer(BUFFER_BYTES);
    this.#f64 = new Float64Array(this.buffer, 0, AT_LENGTHS_BYTE / 8);
    this.#lengths = new Int32Array(this.buffer, AT_LENGTHS_BYTE, SLOTS);
    this.#origin = options.clockBase ?? performance.timeOrigin;
    this.#countBytes = options.countBytes ?? true;
    this.#countResponses = options.countResponses ?? true;
    for (let i = SLOTS - 1; i >= 0; i--) {
      this.#free.push(i);
      this.#texts[i] = new Uint8Array(this.buffer, AT_TEXT_BYTE + i * TEXT_BYTES, TEXT_BYTES);
    }
    this.tick();
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return SLOTS - this.#free.length + (this.#f64[AT_OVERFLOW] ?? 0);
  }

  /**
   * Stamps {@link tick} every {@link TICK_MS} from now on, for the life of
   * the process. With sys.after, not setInterval: on Deno that would load
   * the Node layer's timers (runtime/_sys_deno.ts).
   */
  startTicking(): void {
    const tick = () => {
      sys.after(TICK_MS, tick);
      this.tick();
    };
    sys.after(TICK_MS, tick);
  }

  /** Stamps the main loop's liveness and the request count; the memory once a second. */
  tick(): void {
    this.#tickedAt = performance.now();
    this.#f64[AT_TICK] = this.#origin + this.#tickedAt;
    this.#f64[AT_REQUESTS] = this.requests;
    if (this.#ticks++ % 4 === 0) {
      const memory = sys.memory();
      this.#f64[AT_HEAP] = memory.heapUsed;
      this.#f64[AT_RSS] = memory.rss;
    }
  }

  /**
   * The start of a request arriving now, for {@link begin} and {@link end}:
   * performance.now() when responses are counted (their latency needs it),
   * else the last tick's (see the module's text).
   */
  startTime(): number {
    return this.#countResponses ? performance.now() : this.#tickedAt;
  }

  /**
   * Records a request that started at `now` (performance.now()); returns
   * its slot, or -1 when all are taken.
   */
  begin(request: Request, now: number): number {
    this.requests++;
    const slot = this.#free.pop();
    if (slot === undefined) {
      (this.#f64[AT_OVERFLOW] as number)++;
      return -1;
    }
    const bytes = this.#texts[slot] as Uint8Array;
    let length;
    try {
      const method = request.method;
      const url = request.url;
      // A URL as the runtime gives it is ASCII (its parser escapes the rest),
      // and so is a method: copied byte by byte, as encodeInto would write
      // them, without its call into the runtime (Deno: 0.3 µs a request).
      length = _ascii(method, bytes, 0);
      if (length >= 0 && length < bytes.length) bytes[length++] = 32;
      if (length >= 0) length = _ascii(url, bytes, length);
      if (length < 0) length = this.#encoder.encodeInto(method + " " + url, bytes).written;
    } catch { // A request the runtime has closed meanwhile: still counted, not named.
      length = this.#encoder.encodeInto("(a request that cannot be read)", bytes).written;
    }
    this.#lengths[slot] = length;
    this.#f64[AT_TIMES + slot] = this.#origin + now;
    return slot;
  }

  /**
   * Forgets a request recorded by {@link begin} and counts its response
   * (null: the handler threw; an upgrade counts as 101, see statusOf),
   * unless responses are not counted.
   */
  end(slot: number, startedAt: number, response: Response | null | undefined, info?: ServeInfo): void {
    const f = this.#f64;
    if (slot < 0) (f[AT_OVERFLOW] as number)--;
    else {
      f[AT_TIMES + slot] = 0;
      this.#free.push(slot);
    }
    if (!this.#countResponses) return;
    const seconds = (performance.now() - startedAt) / 1000;
    (f[AT_DURATION] as number) += seconds;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket++;
    (f[AT_HISTOGRAM + bucket] as number)++;
    if (response === null) {
      // A thrown handler is answered 500 by the server.
      (f[AT_STATUS + 4] as number)++;
      return;
    }
    const status = info ? statusOf(response, info) : response === undefined ? 101 : response.status;
    if (typeof status !== "number") {
      // The handler returned something that is no Response: the server answers 500.
      (f[AT_STATUS + 4] as number)++;
      return;
    }
    (f[AT_STATUS + (status < 200 ? 0 : status >= 500 ? 4 : ((status / 100) | 0) - 1)] as number)++;
    if (!this.#countBytes || response === undefined) return;
    let length = null;
    try {
      length = responseLength(response);
    } catch { /* a body the runtime has taken: not counted */ }
    if (length !== null) (f[AT_BYTES] as number) += Number(length) || 0;
  }
}
