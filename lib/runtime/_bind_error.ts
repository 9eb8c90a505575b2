import { type Address, formatAddress } from "../address.ts";
import { BootError, describeError } from "../errors.ts";

const _REASONS: Record<string, string> = {
  AddrInUse: "address already in use",
  EADDRINUSE: "address already in use",
  PermissionDenied: "permission denied (ports below 1024 need privileges)",
  EACCES: "permission denied (ports below 1024 need privileges)",
  AddrNotAvailable: "address not available on this machine",
  EADDRNOTAVAIL: "address not available on this machine",
};

/** Turns whatever a runtime threw while binding into one clear BootError. */
export function bindError(address: Address, tls: boolean, err: unknown): BootError {
  const e = err as { name?: string; code?: string };
  const reason = _REASONS[e?.code ?? ""] ?? _REASONS[e?.name ?? ""];
  const where = `Cannot bind "${formatAddress(address, tls)}"`;
  if (reason) return new BootError(`${where}: ${reason}`, { cause: err });
  if (tls) {
    return new BootError(
      `${where}: the TLS certificate or key was rejected (--certfile/--keyfile): ${describeError(err)}`,
      { cause: err },
    );
  }
  return new BootError(`${where}: ${describeError(err)}`, { cause: err });
}
