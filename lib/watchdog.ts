/**
 * The worker's side of hang detection. The main thread records each
 * request in flight in a SharedArrayBuffer and stamps a tick there every
 * {@link TICK_MS}; a heartbeat thread reads it and reports to the master.
 * The thread keeps reporting while the main loop is stuck, so the master
 * learns how long the loop has been stuck and which requests were in it:
 * the request that blocked it is named even if it arrived a moment ago.
 * @module
 */

/** How often the main thread stamps its tick. */
export const TICK_MS = 250;
/** Requests recorded individually; more in flight are only counted. */
export const SLOTS = 32;
/** Bytes of "METHOD URL" kept per request. */
export const TEXT_BYTES = 240;

// Layout: Float64 header [tick, requests, inFlightOverflow], then per slot a
// Float64 start time (0 = free), an Int32 text length and TEXT_BYTES of text.
const _HEADER = 3;
const _TIMES = _HEADER;
const _LENGTHS_BYTE = (_HEADER + SLOTS) * 8;
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

/** What the heartbeat thread reads out of the shared buffer. */
export interface WatchdogReading {
  /** Milliseconds since the main loop last ran its tick. */
  readonly loopLagMs: number;
  readonly requests: number;
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
  #overflow = 0;
  /** Requests started since boot. */
  requests = 0;

  constructor() {
    for (let i = SLOTS - 1; i >= 0; i--) {
      this.#free.push(i);
      this.#texts[i] = new Uint8Array(this.buffer, _TEXT_BYTE + i * TEXT_BYTES, TEXT_BYTES);
    }
    this.tick();
  }

  /** Stamps the main loop's liveness and the request count. */
  tick(): void {
    this.#f64[0] = Date.now();
    this.#f64[1] = this.requests;
    this.#f64[2] = this.#overflow;
  }

  /** Records a request; returns its slot (or -1 when all are taken). */
  begin(request: Request): number {
    this.requests++;
    const slot = this.#free.pop();
    if (slot === undefined) {
      this.#overflow++;
      return -1;
    }
    const { written } = this.#encoder.encodeInto(`${request.method} ${request.url}`, this.#texts[slot] as Uint8Array);
    this.#lengths[slot] = written;
    this.#f64[_TIMES + slot] = Date.now();
    return slot;
  }

  /** Forgets a request recorded by {@link begin}. */
  end(slot: number): void {
    if (slot < 0) {
      this.#overflow--;
      return;
    }
    this.#f64[_TIMES + slot] = 0;
    this.#free.push(slot);
  }
}

/** Reads the shared buffer (from the heartbeat thread). */
export function readWatchdog(buffer: SharedArrayBuffer, now = Date.now()): WatchdogReading {
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
    loopLagMs: Math.max(0, now - (f64[0] ?? now)),
    requests: f64[1] ?? 0,
    inFlight,
    overflow: f64[2] ?? 0,
  };
}
