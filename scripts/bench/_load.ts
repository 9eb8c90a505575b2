/**
 * The two load generators of scripts/bench/main.ts, both pinned to one core:
 * wrk (TCP only) and scripts/bench/_unix_client.ts (TCP or unix socket).
 * @module
 */
import { join } from "node:path";
import type { Target } from "./_http.ts";
import { ROOT, runtimeCommand, type Tools } from "./_options.ts";
import { run } from "./_proc.ts";

/** What a load generator counted. */
export interface Count {
  readonly requests: number;
  readonly seconds: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** The request a load sends again and again. */
export interface LoadRequest {
  /** Path and query. */
  readonly path: string;
  /** Header fields (`Name: value`). */
  readonly headers: readonly string[];
}

/** `GET /`, with no header fields but the load generator's own. */
export const ROOT_REQUEST: LoadRequest = { path: "/", headers: [] };

/** Sends keep-alive load to `target` for `seconds`, `request` after request. */
export type Load = (target: Target, seconds: number, request?: LoadRequest) => Promise<Count>;

/** A generator gets this long past its run before it is killed. */
const _GRACE_MS = 30_000;

/** `wrk -t1 -cN` pinned to `cpu`; TCP only. */
export function wrkLoad(tools: Tools, connections: number, cpu: number): Load {
  return async (target, seconds, request = ROOT_REQUEST) => {
    if ("path" in target) throw new TypeError("wrk cannot connect to a unix socket");
    const url = `http://127.0.0.1:${target.port}${request.path}`;
    const argv = [
      tools.taskset,
      "-c",
      String(cpu),
      tools.wrk,
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      ...request.headers.flatMap((h) => ["-H", h]),
      url,
    ];
    const { code, stdout, stderr } = await run(argv, seconds * 1000 + _GRACE_MS);
    const done = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(stdout);
    if (code !== 0 || !done) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`);
    const unit = { ms: 0.001, s: 1, m: 60 }[done[3] as "ms" | "s" | "m"];
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    return {
      requests: Number(done[1]),
      seconds: Number(done[2]) * unit,
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
      errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    };
  };
}

/** scripts/bench/_unix_client.ts on `tools.client`, pinned to `cpu`. */
export function clientLoad(tools: Tools, connections: number, cpu: number): Load {
  const script = join(ROOT, "scripts", "bench", "_unix_client.ts");
  const command = [tools.taskset, "-c", String(cpu), ...runtimeCommand(tools, tools.client), script];
  return async (target, seconds, request = ROOT_REQUEST) => {
    if (request.headers.length > 0 || request.path !== "/") {
      throw new TypeError("the load client sends GET / only");
    }
    const where = "path" in target ? ["--path", target.path] : ["--port", String(target.port)];
    const argv = [...command, ...where, "-c", String(connections), "-d", String(seconds)];
    const { code, stdout, stderr } = await run(argv, seconds * 1000 + _GRACE_MS);
    const last = stdout.trim().split("\n").pop() ?? "";
    if (code !== 0 || !last.startsWith("{")) {
      throw new Error(`Load client failed (exit ${code}): ${stderr || stdout}`);
    }
    return JSON.parse(last) as Count;
  };
}
