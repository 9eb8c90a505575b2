/**
 * The three workloads of `scripts/bench/main.ts --peers` and the wrk run that
 * drives them: hello world, a 64 KiB response and a 4 KiB JSON POST echo
 * (through a wrk Lua script), with wrk's latency percentiles.
 * @module
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./_proc.ts";

/** One workload: the route every peer app answers, and what it must answer. */
export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** The request body; only the POST has one. */
  readonly body: string | null;
  /** What the reply's body must be, byte for byte. */
  readonly expected: string;
}

/** The workloads, by the names `--scenarios` takes. */
export type ScenarioName = "hello" | "64k" | "echo";
/** Every workload, in the order the tables come. */
export const SCENARIO_NAMES: readonly ScenarioName[] = ["hello", "64k", "echo"];

/** Size of the echo's JSON body. */
export const ECHO_BYTES = 4096;

/**
 * A compact 4 KiB JSON document, ASCII only, so that every peer's
 * serialiser gives back the very bytes it got.
 */
export function echoPayload(bytes = ECHO_BYTES): string {
  const items: { id: number; name: string; tags: string[]; price: number }[] = [];
  const doc = { items, note: "" };
  for (let id = 0;; id++) {
    const item = { id, name: `item-${id}`, tags: ["a", "b"], price: id + 0.5 };
    items.push(item);
    if (JSON.stringify(doc).length > bytes - 16) {
      items.pop();
      break;
    }
  }
  doc.note = "x".repeat(bytes - JSON.stringify(doc).length);
  return JSON.stringify(doc);
}

/** The workloads, built once per run. */
export function scenarios(): Map<ScenarioName, Scenario> {
  const payload = echoPayload();
  const list: Scenario[] = [
    {
      name: "hello",
      title: "Hello world",
      method: "GET",
      path: "/",
      body: null,
      expected: "Hello, world!\n",
    },
    {
      name: "64k",
      title: "64 KiB response",
      method: "GET",
      path: "/64k",
      body: null,
      expected: "x".repeat(65_536),
    },
    {
      name: "echo",
      title: "4 KiB JSON POST echo",
      method: "POST",
      path: "/echo",
      body: payload,
      expected: payload,
    },
  ];
  return new Map(list.map((s) => [s.name, s]));
}

/**
 * Asks the server once and checks the reply, so that no peer is measured
 * answering something else (a 404 is fast).
 */
export async function checkReply(port: number, scenario: Scenario, label: string): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${scenario.path}`, {
    method: scenario.method,
    ...(scenario.body === null
      ? {}
      : { body: scenario.body, headers: { "content-type": "application/json" } }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  if (response.status !== 200 || text !== scenario.expected) {
    throw new Error(
      `${label} answers ${scenario.method} ${scenario.path} with ${response.status} ` +
        `(${text.length} bytes: ${
          JSON.stringify(text.slice(0, 60))
        }), not the expected ${scenario.expected.length} bytes`,
    );
  }
}

/**
 * The Lua script that makes wrk send the POST. The body goes in a long
 * bracket string, which takes any bytes but its own closing bracket.
 */
export function writeLuaScript(dir: string, scenario: Scenario): string | null {
  if (scenario.body === null) return null;
  if (scenario.body.includes("]==]")) {
    throw new RangeError(`The ${scenario.name} body cannot go in a Lua string`);
  }
  const path = join(dir, `${scenario.name}.lua`);
  writeFileSync(
    path,
    `wrk.method = "${scenario.method}"\n` +
      `wrk.headers["Content-Type"] = "application/json"\n` +
      `wrk.body = [==[${scenario.body}]==]\n`,
  );
  return path;
}

/** What one wrk run measured. */
export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  /** 99th percentile latency, in ms. */
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** How wrk is run: where, on which cores, how hard. */
export interface WrkRun {
  readonly wrk: string;
  readonly taskset: string;
  readonly cores: readonly number[];
  readonly connections: number;
}

/** A wrk run gets this long past its duration before it is killed. */
const _GRACE_MS = 30_000;

const _TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** `1.23ms` → 1.23 */
function _ms(value: string, unit: string): number {
  return Number(value) * (_TIME_UNITS[unit] ?? NaN);
}

/** Parses wrk's report; throws when it is not one. */
export function parseWrk(stdout: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(stdout);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
  if (!done || !p99) throw new Error(`Not a wrk --latency report: ${stdout.slice(0, 200)}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requests: Number(done[1]),
    seconds: _ms(done[2] as string, done[3] as string) / 1000,
    p99Ms: _ms(p99[1] as string, p99[2] as string),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** Runs wrk against `port` for `seconds`, one thread per load core, with the scenario's script. */
export async function wrk(
  how: WrkRun,
  port: number,
  scenario: Scenario,
  script: string | null,
  seconds: number,
) {
  const threads = Math.min(how.cores.length, how.connections);
  const argv = [
    how.taskset,
    "-c",
    how.cores.join(","),
    how.wrk,
    `-t${threads}`,
    `-c${how.connections}`,
    `-d${seconds}s`,
    "--latency",
    ...(script ? ["-s", script] : []),
    `http://127.0.0.1:${port}${scenario.path}`,
  ];
  const { code, stdout, stderr } = await run(argv, seconds * 1000 + _GRACE_MS);
  if (code !== 0) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`);
  return parseWrk(stdout);
}
