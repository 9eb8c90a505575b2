/**
 * `corral ctl --socket PATH status|reload|scale N|stop`: talks to a
 * running master over its --control-socket.
 * @module
 */
import { createConnection } from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { CorralError, ExitCode, UsageError } from "./errors.ts";
import type { WorkerRow } from "./master/metrics.ts";
import type { ControlReply, ControlRequest } from "./master/operations.ts";

/** The usage line of `corral ctl`. */
export const CTL_USAGE = "Usage: corral ctl --socket PATH status|reload|stop|scale N";

function _request(positionals: string[]): ControlRequest {
  const [command, ...rest] = positionals;
  if (command === "status" || command === "reload" || command === "stop") {
    if (rest.length) throw new UsageError(`"${command}" takes no argument`);
    return { command };
  }
  if (command === "scale") {
    const n = Number(rest[0]);
    if (rest.length !== 1 || !Number.isInteger(n) || n < 1) {
      throw new UsageError(`Invalid value for scale: "${rest.join(" ")}": expected a whole number >= 1`);
    }
    return { command, workers: n };
  }
  throw new UsageError(command ? `Unknown ctl command "${command}"` : "Missing ctl command");
}

/**
 * Sends one request, resolves with the reply.
 * @throws {CorralError} naming the socket when it is missing, stale or refused.
 */
export function sendControl(
  path: string,
  request: ControlRequest,
  timeoutMs = 10_000,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = "";
    const fail = (why: string) => {
      socket.destroy();
      reject(new CorralError(`Cannot reach the control socket "${path}": ${why}`, ExitCode.ERROR));
    };
    socket.setTimeout(timeoutMs, () => fail("no answer"));
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(JSON.stringify(request) + "\n"));
    socket.on("data", (chunk: string) => buffered += chunk);
    socket.on("end", () => {
      try {
        resolve(JSON.parse(buffered) as ControlReply);
      } catch {
        fail("the answer is not corral's");
      }
    });
    socket.on("error", (err: Error & { code?: string }) => {
      if (err.code === "ENOENT") fail("no such socket (is corral running with --control-socket?)");
      else if (err.code === "ECONNREFUSED") {
        fail("nothing answers there: a stale socket, corral is not running");
      } else if (err.code === "EACCES") fail("permission denied (it is its owner's only, mode 0600)");
      else if (err.code === "ENOTSOCK") fail("the path is not a socket");
      else fail(err.message);
    });
  });
}

function _mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The worker table as `corral ctl status` prints it. */
export function formatTable(rows: readonly WorkerRow[]): string {
  const head = ["PID", "AGE", "STATE", "UPTIME", "REQUESTS", "REQ/S", "IN FLIGHT", "RSS"];
  const body = rows.map((r) => [
    String(r.pid),
    String(r.age),
    r.state,
    `${r.uptimeSeconds}s`,
    String(r.requests),
    r.requestsPerSecond.toFixed(1),
    String(r.inFlight),
    _mb(r.rssBytes),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  return [head, ...body].map((row) => row.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd())
    .join("\n");
}

/** Runs `corral ctl ARGS`; resolves with the exit code. */
export async function runCtl(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { socket: { type: "string", short: "s" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${CTL_USAGE}`);
  }
  if (parsed.values.help) {
    process.stdout.write(CTL_USAGE + "\n");
    return ExitCode.OK;
  }
  const path = parsed.values.socket ?? process.env.CORRAL_CONTROL_SOCKET;
  if (!path) throw new UsageError(`Missing --socket PATH (or $CORRAL_CONTROL_SOCKET)\n${CTL_USAGE}`);
  const request = _request(parsed.positionals);
  const reply = await sendControl(path, request);
  if (!reply.ok) {
    process.stderr.write(`corral ctl: error: ${reply.error}\n`);
    return ExitCode.ERROR;
  }
  if (reply.status) {
    const s = reply.status;
    process.stdout.write(
      `corral ${s.version} (${s.runtime}), master pid ${s.pid}, ${s.workers.length} workers ` +
        `(target ${s.targetWorkers}), ${s.requests} requests\n${formatTable(s.workers)}\n`,
    );
  } else {
    process.stdout.write(reply.message + "\n");
  }
  return ExitCode.OK;
}
