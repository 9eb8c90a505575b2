/**
 * scripts/slow/main.ts's flags.
 * @module
 */
import { parseArgs } from "node:util";
import { listFlag, numberFlag, UsageError } from "../bench/_cli.ts";
import type { RuntimeName } from "../stress/_corral.ts";

export { UsageError };

/** `--help` text. */
export const USAGE = `Usage: scripts/slow/main.ts [OPTIONS]
      --runtime deno|bun[,...]  the runtimes corral runs on (default deno,bun)
      --defence on|off[,...]    corral's slow-client timeouts at their defaults (on), or turned
                                off with --header-timeout 0 --body-timeout 0 (default on,off)
      --timeouts S              with the defence on, --header-timeout and --body-timeout
                                (default: corral's defaults, 20)
      --heads N                 slowloris connections: a request head at 1 byte/s (default 2000)
      --bodies N                slow uploads: a body at 1 byte/s (default 200)
      --body-size BYTES         the body each announces (default 1048576)
      --attack S                seconds the attack lasts once every attacker is connected
                                (default 30, past the default 20 s timeouts)
      --window S                seconds, from when every attacker is connected, over which the
                                normal clients are measured (default 20: until the default
                                timeouts, every attacker is still there)
      --baseline S              seconds of load without attack first (default 10)
  -w, --workers N               corral workers (default 1: one worker takes the whole attack)
  -c, --clients N               normal keep-alive clients (default 10)
      --rate N                  their requests per second in all (default 200)
      --server-cpu N            the core corral is pinned to (default 0)
      --client-cpu N            the core the attackers and the normal clients are pinned to (default 1)
  -h, --help

Prints one table row per runtime and defence: the normal clients' latency without and with the
attack, the worker's memory, and when the server closed the attackers.`;

/** The parsed flags. */
export interface Options {
  readonly runtimes: readonly RuntimeName[];
  readonly defences: readonly ("on" | "off")[];
  /** --header-timeout and --body-timeout with the defence on; null: corral's defaults. */
  readonly timeouts: number | null;
  readonly heads: number;
  readonly bodies: number;
  readonly bodySize: number;
  readonly attackS: number;
  readonly windowS: number;
  readonly baselineS: number;
  readonly workers: number;
  readonly clients: number;
  readonly rate: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
}

/**
 * Parses the command line; "help" when --help was given.
 * @throws {UsageError|TypeError} on a bad value or an unknown flag.
 */
export function parseOptions(args: string[]): Options | "help" {
  const { values } = parseArgs({
    args,
    options: {
      runtime: { type: "string", default: "deno,bun" },
      defence: { type: "string", default: "on,off" },
      timeouts: { type: "string" },
      heads: { type: "string" },
      bodies: { type: "string" },
      "body-size": { type: "string" },
      attack: { type: "string" },
      window: { type: "string" },
      baseline: { type: "string" },
      workers: { type: "string", short: "w" },
      clients: { type: "string", short: "c" },
      rate: { type: "string" },
      "server-cpu": { type: "string" },
      "client-cpu": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const opts: Options = {
    runtimes: listFlag(values.runtime, ["deno", "bun"] as const, "--runtime"),
    defences: listFlag(values.defence, ["on", "off"] as const, "--defence"),
    timeouts: values.timeouts === undefined ? null : numberFlag(values.timeouts, 0, "--timeouts", 0.1),
    heads: numberFlag(values.heads, 2000, "--heads", 0),
    bodies: numberFlag(values.bodies, 200, "--bodies", 0),
    bodySize: numberFlag(values["body-size"], 1024 * 1024, "--body-size", 1),
    attackS: numberFlag(values.attack, 30, "--attack", 1),
    windowS: numberFlag(values.window, 20, "--window", 1),
    baselineS: numberFlag(values.baseline, 10, "--baseline", 1),
    workers: numberFlag(values.workers, 1, "--workers", 1),
    clients: numberFlag(values.clients, 10, "--clients", 1),
    rate: numberFlag(values.rate, 200, "--rate", 1),
    serverCpu: numberFlag(values["server-cpu"], 0, "--server-cpu", 0),
    clientCpu: numberFlag(values["client-cpu"], 1, "--client-cpu", 0),
  };
  if (opts.windowS > opts.attackS) throw new UsageError("--window must not be longer than --attack");
  if (opts.serverCpu === opts.clientCpu) {
    throw new UsageError("--server-cpu and --client-cpu must differ: the load would steal the server's core");
  }
  return opts;
}
