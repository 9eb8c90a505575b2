/**
 * `--forwarded-allow-ips`: a list of IP addresses and CIDR networks, or
 * `*`. IPv4 is matched as IPv4-mapped IPv6, so `10.0.0.0/8` also matches a
 * dual-stack socket's `::ffff:10.1.2.3`.
 * @module
 */

/** A parsed allow list; `allows(ip)` is false for anything that is not an IP. */
export interface AllowIps {
  readonly any: boolean;
  allows(ip: string): boolean;
}

interface _Network {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

function _ipv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
    out[at + i] = Number(p);
  }
  return true;
}

function _groups(text: string): number[] | null {
  if (text === "") return [];
  const out: number[] = [];
  for (const g of text.split(":")) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

function _ipv6(text: string): Uint8Array | null {
  let body = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    // An embedded IPv4 tail, as in ::ffff:192.0.2.1
    const v4 = new Uint8Array(4);
    if (!_ipv4(text.slice(lastColon + 1), v4, 0)) return null;
    tail.push((v4[0] as number) << 8 | (v4[1] as number), (v4[2] as number) << 8 | (v4[3] as number));
    body = text.slice(lastColon - 1, lastColon + 1) === "::"
      ? text.slice(0, lastColon + 1)
      : text.slice(0, lastColon);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const head = _groups(halves[0] as string);
  const rest = halves.length === 2 ? _groups(halves[1] as string) : [];
  if (head === null || rest === null) return null;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const groups = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** An IP address as 16 bytes (IPv4 mapped into IPv6), or null if `text` is none. */
export function ipBytes(text: string): Uint8Array | null {
  return _parse(text);
}

// Behind a proxy, every request asks about the same few addresses (the
// proxy's, then its clients'): parsed once each, they cost a lookup.
// Bounded, and only short texts: an address is at most 45 characters, plus
// a zone. The arrays are shared, so they stay inside this module.
const _MEMO_TEXT = 64;
const _MEMO_SIZE = 1024;
const _memo = new Map<string, Uint8Array | null>();

function _parsed(text: string): Uint8Array | null {
  if (text.length > _MEMO_TEXT) return _parse(text);
  let bytes = _memo.get(text);
  if (bytes === undefined) {
    if (_memo.size >= _MEMO_SIZE) _memo.clear();
    bytes = _parse(text);
    _memo.set(text, bytes);
  }
  return bytes;
}

function _parse(text: string): Uint8Array | null {
  let ip = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = ip.indexOf("%");
  if (zone >= 0) ip = ip.slice(0, zone);
  if (!ip.includes(":")) {
    const out = new Uint8Array(16);
    out[10] = out[11] = 0xff;
    return _ipv4(ip, out, 12) ? out : null;
  }
  return _ipv6(ip);
}

/** Whether `text` is an IPv4 or IPv6 address. */
export function isIp(text: string): boolean {
  return _parsed(text) !== null;
}

function _network(entry: string): _Network {
  const slash = entry.indexOf("/");
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const bytes = ipBytes(address);
  if (bytes === null) throw new TypeError(`"${entry}" is not an IP address or CIDR network`);
  const v4 = !address.includes(":");
  const width = v4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const p = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width) {
      throw new TypeError(`"${entry}" has an invalid prefix length (0-${width})`);
    }
    prefix = Number(p);
  }
  return { bytes, prefix: v4 ? prefix + 96 : prefix };
}

function _contains(net: _Network, ip: Uint8Array): boolean {
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((net.bytes[i] as number) & mask) !== ((ip[i] as number) & mask)) return false;
  }
  return true;
}

/**
 * Parses the entries of `--forwarded-allow-ips`.
 *
 * @example
 * ```ts
 * const allow = parseAllowIps(["127.0.0.1", "10.0.0.0/8", "::1"]);
 * allow.allows("10.1.2.3"); // true
 * ```
 * @throws {TypeError} naming the entry that is not an IP address or network.
 */
export function parseAllowIps(entries: readonly string[]): AllowIps {
  if (entries.includes("*")) return { any: true, allows: () => true };
  const networks = entries.map(_network);
  return {
    any: false,
    allows(ip: string): boolean {
      const bytes = _parsed(ip);
      return bytes !== null && networks.some((n) => _contains(n, bytes));
    },
  };
}
