/**
 * Judging a connection from what the kernel says of it, tick after tick:
 * is it idle (`--keep-alive`), or is its client too slow to send a request
 * (`--header-timeout`, `--body-timeout`, `--min-upload-rate`)? Pure
 * functions over {@link TcpInfo} snapshots; runtime/_watcher.ts takes the
 * snapshots and closes what these judge.
 *
 * **The slow-client rule** is Apache mod_reqtimeout's: a client sending a
 * request may take `timeout + bytes received / rate` seconds (its defaults,
 * `header=20-40,MinRate=500 body=20,MinRate=500`, are corral's). The kernel
 * cannot see where a request head ends, so the clock runs per *exchange*:
 * it starts when a connection receives data after it last sent some (or at
 * accept), and stops when the connection sends (an answer, or a 100
 * Continue). While it runs:
 *
 * - a request the app has not received yet (its head is incomplete) is too
 *   slow past the header timeout; the front's list of requests in flight
 *   tells the two apart (see runtime/types.ts, `InFlightRequests`);
 * - a request at the app: only the time the client spends sending counts
 *   (up to the last byte received), so an app that takes minutes to answer
 *   a request received in a second is never cut; but when the bytes
 *   received are fewer than its Content-Length plus the smallest head that
 *   could have carried its headers, its body is known to be incomplete and
 *   a silent client is as slow as a trickling one.
 * @module
 */
import type { TcpInfo } from "./_tcp_info.ts";

/** The slow-client limits; `Infinity` turns one off. */
export interface SlowLimits {
  /** --header-timeout, in milliseconds. */
  readonly headerMs: number;
  /** --body-timeout, in milliseconds. */
  readonly bodyMs: number;
  /** --min-upload-rate, in bytes per second (each such many bytes received add one second). */
  readonly minRate: number;
}

/** What a watcher remembers of one connection between two looks. */
export interface Exchange {
  /** The local port (which server) and the peer, as runtime/_tcp_info.ts keys it. */
  readonly port: number;
  readonly peer: string;
  /** tcpi_bytes_received and tcpi_bytes_acked at the last look. */
  received: number;
  acked: number;
  /** When data last went out and came in (the watcher's clock; the connection's start if none did), at the last look. */
  sentAt: number;
  receivedAt: number;
  /** Whether the client is sending a request: data came in since the connection last sent any. */
  receiving: boolean;
  /** When that began (milliseconds, the watcher's clock), and the bytes received before. */
  since: number;
  base: number;
  /** Whether the request of this exchange was seen at the app. */
  atApp: boolean;
  /** An upgraded connection (WebSocket): never closed by the watcher. */
  upgraded: boolean;
  /**
   * A look found it waiting for its client with nothing of its own at the
   * app (`--keep-alive`); cleared as soon as data moves either way. Closed
   * only at a later look (see runtime/_watcher.ts).
   */
  idle: boolean;
}

function _begin(ex: Exchange, since: number, base: number): void {
  ex.receiving = true;
  ex.since = since;
  ex.base = base;
  ex.atApp = false;
}

/** A connection seen for the first time at `now` (milliseconds): accepted on `port`, from `peer`. */
export function newExchange(info: TcpInfo, port: number, peer: string, now: number): Exchange {
  const ex: Exchange = {
    port,
    peer,
    received: info.bytesReceived,
    acked: info.bytesAcked,
    sentAt: now - info.sentMs,
    receivedAt: now - info.receivedMs,
    receiving: false,
    since: now,
    base: 0,
    atApp: false,
    upgraded: false,
    idle: false,
  };
  if (info.sending) return ex;
  // Nothing ever sent: tcpi_last_data_sent is the connection's age, and the exchange began at accept.
  if (!info.everSent) _begin(ex, ex.sentAt, 0);
  // Data received after the last sent: counted from the last byte (the most the kernel proves), every byte in.
  else if (info.everReceived && info.receivedMs < info.sentMs) {
    _begin(ex, now - info.receivedMs, 0);
  }
  return ex;
}

/**
 * Whether `info` can be the connection `ex` followed, seen again at `now`:
 * its counters never go back, a connection that has not sent yet began
 * when it did, and while no data moved either way its data last moved when
 * it did (a new connection that made the same exchange, of as many bytes,
 * did it later). A descriptor closed and reused between two looks fails
 * this but for coincidences, which the watcher rules out by checking the
 * port and the peer before it closes anything; a connection that fails it
 * is asked its port and peer again (runtime/_watcher.ts).
 */
export function sameConnection(ex: Exchange, info: TcpInfo, now: number): boolean {
  if (countersBack(ex, info)) return false;
  const moved = info.bytesReceived > ex.received || info.bytesAcked > ex.acked || info.sending;
  // The kernel's clock ticks every few milliseconds; ours and its drift apart far slower than this.
  if ((!moved || !info.everSent) && Math.abs(now - info.sentMs - ex.sentAt) >= 50) return false;
  return moved || Math.abs(now - info.receivedMs - ex.receivedAt) < 50;
}

/** Whether the kernel counts fewer bytes either way than when `ex` was seen: another connection. */
export function countersBack(ex: Exchange, info: TcpInfo): boolean {
  return info.bytesReceived < ex.received || info.bytesAcked < ex.acked;
}

/** Updates what is known of a connection (see {@link sameConnection}) with a new look at `now`. */
export function track(prev: Exchange, info: TcpInfo, now: number): void {
  const grew = info.bytesReceived > prev.received;
  if (grew || info.sending || info.bytesAcked > prev.acked) prev.idle = false;
  if (info.sending || info.bytesAcked > prev.acked) {
    // It sent since the last look. Data received after that, with nothing left going out, is the next request.
    if (!info.sending && grew && info.receivedMs < info.sentMs) {
      _begin(prev, now - info.receivedMs, prev.received);
    } else {
      prev.receiving = false;
      prev.atApp = false;
    }
  } else if (!prev.receiving && grew) {
    _begin(prev, now - info.receivedMs, prev.received);
  }
  prev.received = info.bytesReceived;
  prev.acked = info.bytesAcked;
  prev.sentAt = now - info.sentMs;
  prev.receivedAt = now - info.receivedMs;
}

/** Milliseconds a client that has sent `bytes` may take with a timeout of `timeoutMs`. */
function _allowed(timeoutMs: number, bytes: number, limits: SlowLimits): number {
  return timeoutMs + (bytes * 1000) / limits.minRate;
}

/**
 * Whether a connection may be too slow whatever the app knows of it: the
 * cheap test that picks the few connections worth matching against the
 * requests in flight.
 */
export function overdue(ex: Exchange, info: TcpInfo, now: number, limits: SlowLimits): boolean {
  if (!ex.receiving || ex.upgraded) return false;
  const bytes = info.bytesReceived - ex.base;
  return now - ex.since > _allowed(Math.min(limits.headerMs, limits.bodyMs), bytes, limits);
}

/**
 * The fewest bytes an HTTP/1 head carrying `request`'s method and header
 * fields can take: `M / HTTP/1.1`, each field as `name:value`, the CRLFs.
 * A runtime trims values and joins repeated fields with 2 bytes (`, `),
 * where the wire had a name, a colon and a CRLF: never more than the wire.
 */
export function headBound(request: Request): number {
  let bytes = request.method.length + 13 + 2;
  request.headers.forEach((value, name) => bytes += name.length + value.length + 3);
  return bytes;
}

/**
 * Whether `bytes` received in the exchange prove `request`'s body
 * incomplete. Unknown (false) for a body without Content-Length (chunked),
 * after `Expect: 100-continue` (the head was in an earlier exchange), and
 * with TLS only the Content-Length counts (HTTP/2 compresses heads).
 */
export function bodyIncomplete(request: Request, bytes: number, tls: boolean): boolean {
  const length = request.headers.get("content-length");
  if (length === null || request.headers.has("expect")) return false;
  const declared = Number(length);
  if (!Number.isSafeInteger(declared)) return false;
  return bytes < declared + (tls ? 0 : headBound(request));
}

/** Why a connection is closed: its request head, or its body, came too slowly. */
export type SlowVerdict = "head" | "body" | null;

/**
 * Judges an {@link overdue} connection, knowing whether its request is at
 * the app: `request` is the request in flight from its peer, `null` when
 * its peer has one whose headers cannot be read, `undefined` when none.
 */
export function judge(
  ex: Exchange,
  info: TcpInfo,
  now: number,
  limits: SlowLimits,
  request: Request | null | undefined,
  tls: boolean,
): SlowVerdict {
  const bytes = info.bytesReceived - ex.base;
  if (request !== undefined) ex.atApp = true;
  if (!ex.atApp) return now - ex.since > _allowed(limits.headerMs, bytes, limits) ? "head" : null;
  const incomplete = request != null && bodyIncomplete(request, bytes, tls);
  // The app's own time is not the client's: unless the body is known to be short, the clock stopped at the last byte.
  const until = incomplete ? now : now - info.receivedMs;
  return until - ex.since > _allowed(limits.bodyMs, bytes, limits) ? "body" : null;
}

/**
 * Whether a connection looks as if it had waited for its client for at
 * least `idleMs` (`--keep-alive`): it never received anything, or its last
 * event was data sent and none is left to send or to be acknowledged (a
 * client that stopped reading a long answer holds that up). The kernel's
 * clock ticks every few milliseconds (CONFIG_HZ), so a request and its
 * answer often share a tick: a tie counts as waiting. What the kernel
 * cannot tell is whether the server still owes an answer: a request
 * received with the one before (pipelined) and still at the app, or a
 * streamed response that pauses, looks the same; so does an answer the
 * app has returned that the runtime has not written yet. The watcher asks
 * the worker's requests in flight, and waits a look, before it closes one
 * that looks idle (runtime/_watcher.ts).
 */
export function isIdle(
  quiet: Pick<TcpInfo, "sentMs" | "receivedMs" | "everSent" | "everReceived" | "sending">,
  idleMs: number,
): boolean {
  if (!quiet.everReceived) return quiet.receivedMs >= idleMs;
  if (!quiet.everSent) return false; // its first request is in progress
  // An answer still going out: a client that stopped reading a long one is not waiting for the server.
  if (quiet.sentMs > quiet.receivedMs || quiet.sending) return false;
  return quiet.sentMs >= idleMs;
}
