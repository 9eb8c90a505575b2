/**
 * Starting one peer for `scripts/bench/main.ts --peers`: which cores it and the
 * load generator get, the start itself (pinned, with its environment), the
 * time to its first response, and the memory of each of its processes.
 * @module
 */
import { readFileSync } from "node:fs";
import { get } from "./_http.ts";
import type { Launch } from "./_peers_catalog.ts";
import { ROOT } from "./_options.ts";
import { privateKiB, Server, treePids, which } from "./_proc.ts";

/** Which cores a server and its load generator run on. */
export interface Layout {
  readonly server: readonly number[];
  readonly load: readonly number[];
  /** True when there were not cores enough to keep them apart. */
  readonly shared: boolean;
}

/**
 * The first `workers` cores for the server, the rest for wrk. With too few
 * cores (2 workers on a 2-core machine) both get every core, and only the
 * CPU time per request still compares fairly.
 */
export function layout(workers: number, cores: number): Layout {
  const all = Array.from({ length: cores }, (_, i) => i);
  const server = all.slice(0, Math.min(workers, cores));
  const load = all.slice(server.length);
  return load.length > 0 ? { server, load, shared: false } : { server, load: all, shared: true };
}

/** `0`, `0-1`, `0,2` */
export function coreList(cores: readonly number[]): string {
  const first = cores[0];
  const last = cores[cores.length - 1];
  const contiguous = first !== undefined && last !== undefined && last - first === cores.length - 1;
  return contiguous && cores.length > 1 ? `${first}-${last}` : cores.join(",");
}

/** Polls a connection refused this often: the start times are tens of ms. */
const _POLL_MS = 5;

/** A started server and when it was started (performance.now()). */
export interface Started {
  readonly server: Server;
  readonly startedAt: number;
}

/**
 * Starts `launch` on `cores`. Server pins to one core; the nested taskset
 * widens that to all of `cores`, and env(1) passes the peer's variables.
 * Both exec, so the server's pid is the peer's own.
 */
export function start(launch: Launch, cores: readonly number[]): Started {
  const taskset = which("taskset") ?? "taskset";
  const env = which("env") ?? "/usr/bin/env";
  const vars = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
  const argv = [taskset, "-c", cores.join(","), env, ...vars, ...launch.argv];
  const startedAt = performance.now();
  return { server: new Server(argv, cores[0] ?? 0, ROOT), startedAt };
}

/** Milliseconds from the start to the first `GET /` answered; throws on exit or timeout. */
export async function firstResponse(started: Started, port: number, timeoutMs: number): Promise<number> {
  const { server, startedAt } = started;
  const deadline = startedAt + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline && !server.exited) {
    try {
      await get({ port }, 2000);
      return performance.now() - startedAt;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, _POLL_MS));
  }
  const why = server.exited ? "exited" : `did not answer within ${timeoutMs} ms`;
  throw new Error(`Server on port ${port} ${why}: ${last}\n${server.stderr.slice(-2000)}`);
}

/** Resident memory of one process in KiB; 0 if it is gone. */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * RSS of the server's first process (the master) and of each of its
 * descendants, and the private memory of them all (what the whole server
 * costs the machine beyond the pages its processes share), in KiB.
 */
export function treeRss(root: number): { master: number; workers: number[]; privateTotal: number } {
  const pids = treePids(root);
  const others = pids.filter((pid) => pid !== root);
  const privateTotal = pids.map(privateKiB).filter(Number.isFinite).reduce((a, b) => a + b, 0);
  return { master: rssKiB(root), workers: others.map(rssKiB).sort((a, b) => a - b), privateTotal };
}
