/**
 * What Linux tells a process about one of its TCP connections, through
 * libc: `TCP_INFO` (linux/tcp.h), the local and the peer address, and the
 * bytes waiting unread. One probe per watcher, with its buffers made once,
 * since a watcher asks about every connection a few times a second.
 * @module
 */
import type { LibcCalls } from "./_libc.ts";
import { AF_INET, AF_INET6 } from "./_linux.ts";

const IPPROTO_TCP = 6;
const TCP_INFO = 11;
/** FIONREAD (= SIOCINQ): bytes received and not yet read by the process. */
const FIONREAD = 0x541b;
/**
 * Offsets in struct tcp_info (linux/tcp.h, checked with offsetof on Linux
 * 6.18). The byte counters appeared in Linux 4.1, tcpi_notsent_bytes and
 * the data segment counters in 4.6: a shorter answer is an older kernel.
 */
const UNACKED = 24;
const LAST_DATA_SENT = 44;
const LAST_DATA_RECV = 52;
const BYTES_ACKED = 120;
const BYTES_RECEIVED = 128;
const NOTSENT_BYTES = 144;
const DATA_SEGS_IN = 152;
const DATA_SEGS_OUT = 156;
const TCP_INFO_BYTES = 232;

/** errno of a call on a descriptor that is not open. */
const EBADF = 9;

/** tcpi_state of an established connection (linux/tcp_states.h). */
export const TCP_ESTABLISHED = 1;

/** One connection as TCP_INFO shows it. */
export interface TcpInfo {
  /** tcpi_state: {@link TCP_ESTABLISHED} is 1. */
  readonly state: number;
  /** Milliseconds since data was last sent (since the connection began, if none was). */
  readonly sentMs: number;
  /** Milliseconds since data was last received (since the connection began, if none was). */
  readonly receivedMs: number;
  readonly everSent: boolean;
  readonly everReceived: boolean;
  /** Bytes the client has acknowledged (tcpi_bytes_acked). */
  readonly bytesAcked: number;
  /** Bytes received from the client (tcpi_bytes_received), read by the process or not. */
  readonly bytesReceived: number;
  /** Whether the process has written data the client has not acknowledged yet: a response is going out. */
  readonly sending: boolean;
}

/** Reads what the kernel knows of this process's sockets. */
export class TcpProbe {
  readonly #libc: LibcCalls;
  readonly #info = new Uint8Array(TCP_INFO_BYTES);
  readonly #infoView = new DataView(this.#info.buffer);
  readonly #address = new Uint8Array(128);
  readonly #addressView = new DataView(this.#address.buffer);
  readonly #length = new Uint8Array(4);
  readonly #lengthView = new DataView(this.#length.buffer);
  /** Whether the descriptor of the last {@link info} that answered null is not open at all. */
  closed = false;

  constructor(libc: LibcCalls) {
    this.#libc = libc;
  }

  /**
   * TCP_INFO of `fd`, or null when it is not a TCP socket (any more), or the
   * kernel is older than 4.6; then {@link closed} says whether `fd` is open.
   */
  info(fd: number): TcpInfo | null {
    this.#lengthView.setUint32(0, this.#info.length, true);
    this.closed = false;
    if (this.#libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, this.#info, this.#length) < 0) {
      this.closed = this.#libc.errno() === EBADF;
      return null;
    }
    if (this.#lengthView.getUint32(0, true) < DATA_SEGS_OUT + 4) return null;
    const view = this.#infoView;
    return {
      state: this.#info[0] as number,
      sentMs: view.getUint32(LAST_DATA_SENT, true),
      receivedMs: view.getUint32(LAST_DATA_RECV, true),
      everSent: view.getUint32(DATA_SEGS_OUT, true) > 0,
      everReceived: view.getUint32(DATA_SEGS_IN, true) > 0,
      bytesAcked: Number(view.getBigUint64(BYTES_ACKED, true)),
      bytesReceived: Number(view.getBigUint64(BYTES_RECEIVED, true)),
      sending: view.getUint32(UNACKED, true) > 0 || view.getUint32(NOTSENT_BYTES, true) > 0,
    };
  }

  /** The local port of `fd` when it is an IPv4 or IPv6 socket, else null. */
  localPort(fd: number): number | null {
    this.#lengthView.setUint32(0, this.#address.length, true);
    if (this.#libc.getsockname(fd, this.#address, this.#length) < 0) return null;
    // sa_family_t in the host's order (little-endian on every Linux corral runs on); the port in network order.
    const family = this.#addressView.getUint16(0, true);
    if (family !== AF_INET && family !== AF_INET6) return null;
    return this.#addressView.getUint16(2, false);
  }

  /** The peer of `fd` as {@link peerKey} writes it, or null. */
  peer(fd: number): string | null {
    this.#lengthView.setUint32(0, this.#address.length, true);
    if (this.#libc.getpeername(fd, this.#address, this.#length) < 0) return null;
    const view = this.#addressView;
    const port = view.getUint16(2, false);
    const family = view.getUint16(0, true);
    if (family === AF_INET) return `${this.#address.subarray(4, 8).join(".")}|${port}`;
    if (family !== AF_INET6) return null;
    // sockaddr_in6: family, port, flowinfo, then the 16 bytes of the address.
    const bytes = this.#address.subarray(8, 24);
    const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (mapped) return `${bytes.subarray(12, 16).join(".")}|${port}`;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(view.getUint16(8 + i, false).toString(16));
    return `${groups.join(":")}|${port}`;
  }

  /** Bytes received on `fd` that the process has not read yet (0 when it cannot tell). */
  unread(fd: number): number {
    this.#lengthView.setInt32(0, 0, true);
    if (this.#libc.ioctl(fd, FIONREAD, this.#length) < 0) return 0;
    return this.#lengthView.getInt32(0, true);
  }
}

/**
 * The key {@link TcpProbe.peer} gives, from an address as the runtimes
 * show it (`info.remoteAddr`): IPv4 and IPv4-mapped IPv6 as dotted quads,
 * other IPv6 as eight hexadecimal groups. Null when `hostname` is not an
 * IP address in a form this reads.
 */
export function peerKey(hostname: string, port: number): string | null {
  let host = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (/^(::ffff:)?\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `${host.replace(/^::ffff:/, "")}|${port}`;
  if (!/^[0-9a-f:]+$/.test(host)) return null;
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...new Array<string>(missing).fill("0"), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return null;
  host = groups.map((g) => parseInt(g, 16).toString(16)).join(":");
  return `${host}|${port}`;
}
