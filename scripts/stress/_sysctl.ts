/**
 * net.ipv4.tcp_migrate_req: whether Linux moves the connections queued on
 * a closing SO_REUSEPORT listener to another listener of its group (1)
 * or resets them (0). Read and written through /proc, which takes root.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";

const PATH = "/proc/sys/net/ipv4/tcp_migrate_req";

/** The setting now: 0 or 1; null where the kernel has none (before Linux 5.14, or not Linux). */
export function readMigrateReq(): 0 | 1 | null {
  try {
    return readFileSync(PATH, "utf8").trim() === "1" ? 1 : 0;
  } catch {
    return null;
  }
}

/**
 * Sets it.
 * @throws {Error} without the right to write it (not root), or if it does not take.
 */
export function writeMigrateReq(value: 0 | 1): void {
  writeFileSync(PATH, `${value}\n`);
  if (readMigrateReq() !== value) {
    throw new Error(`Cannot set net.ipv4.tcp_migrate_req to "${value}": it reads "${readMigrateReq()}"`);
  }
}
