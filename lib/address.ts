/**
 * Listen addresses: parsing `-b/--bind` values and printing them back.
 * @module
 */
import { UsageError } from "./errors.ts";

/** A TCP address (`HOST:PORT`, `[IPV6]:PORT`). */
export interface TcpAddress {
  readonly transport: "tcp";
  readonly hostname: string;
  readonly port: number;
}

/** A unix domain socket (`unix:PATH`). */
export interface UnixAddress {
  readonly transport: "unix";
  readonly path: string;
}

/** Where a worker listens. */
export type Address = TcpAddress | UnixAddress;

/** Gunicorn's default port when a bind names only a host. */
export const DEFAULT_PORT = 8000;

const _PORT = /^\d{1,5}$/;

/**
 * Parses one `--bind` value: `HOST`, `HOST:PORT`, `:PORT`, `[IPV6]`,
 * `[IPV6]:PORT` or `unix:PATH`.
 *
 * @example
 * ```ts
 * parseAddress("[::1]:8080"); // { transport: "tcp", hostname: "::1", port: 8080 }
 * ```
 * @throws {UsageError} naming the value when it is not an address.
 */
export function parseAddress(value: string, flag = "-b/--bind"): Address {
  const bad = (why: string) => new UsageError(`Invalid value for ${flag}: "${value}": ${why}`);
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw bad("unix: needs a socket path");
    return { transport: "unix", path };
  }
  let hostname: string;
  let portText: string | undefined;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) throw bad('missing "]" after the IPv6 address');
    hostname = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) throw bad('expected ":PORT" after "]"');
    portText = rest === "" ? undefined : rest.slice(1);
    if (!hostname.includes(":")) throw bad("brackets are for IPv6 addresses");
  } else {
    const colons = value.split(":").length - 1;
    if (colons > 1) throw bad("write IPv6 addresses in brackets, as [::1]:8000");
    const i = value.indexOf(":");
    hostname = i < 0 ? value : value.slice(0, i);
    portText = i < 0 ? undefined : value.slice(i + 1);
    if (hostname === "") hostname = "0.0.0.0";
  }
  if (hostname === "") throw bad("missing host");
  if (/[\s/]/.test(hostname)) throw bad(`"${hostname}" is not a host name`);
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!_PORT.test(portText)) throw bad(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port > 65535) throw bad(`port ${port} is out of range (0-65535)`);
  }
  return { transport: "tcp", hostname, port };
}

/** Formats an address as the start-up log and error messages show it. */
export function formatAddress(addr: Address, tls = false): string {
  if (addr.transport === "unix") return `unix:${addr.path}`;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `${tls ? "https" : "http"}://${host}:${addr.port}`;
}
