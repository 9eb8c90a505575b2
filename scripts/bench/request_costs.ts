/// <reference path="../../lib/runtime/_bun.d.ts" />
/**
 * What each read corral's front and watchdog make of a request costs on
 * the runtime's own server (issue #17's accounting): a bare server whose
 * handler times each read with performance.now(), under wrk, summed over
 * every request of the run. A read that looks at data the runtime keeps
 * outside JavaScript (Deno asks its Rust side through an op per header
 * lookup; Bun builds a Headers object on the first read) costs what no
 * loop over a prebuilt Request shows. The cost of reading the clock itself
 * (an empty pair of reads) is subtracted from every line.
 *
 * `deno run -A --unstable-net scripts/bench/request_costs.ts`, `bun scripts/bench/request_costs.ts`
 * (`PORT`, `ROUNDS` and `RUN_SECONDS` in the environment change the defaults 8139, 5 and 3);
 * the server runs on core 0 (pin it: `taskset -c 0`), wrk on core 1.
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { median } from "./_table.ts";
import { fieldValues } from "../../lib/runtime/fields.ts";

const PORT = Number(process.env.PORT ?? 8139);
const SECONDS = Number(process.env.RUN_SECONDS ?? 3);
/** What the Hono workload's load sends besides Host (scripts/bench/_workloads.ts). */
const HEADERS = ["Accept: application/json", "User-Agent: wrk"];

const _values: (string | null)[] = [];

/** The reads, in the order the front makes them on a request; each is timed on its own. */
const READS: [string, (request: Request, info: unknown) => unknown][] = [
  ["(clock pair, subtracted below)", () => 0],
  ["request.method", (r) => r.method],
  ["request.url, first read", (r) => r.url],
  ["request.url, again", (r) => r.url],
  [
    "the four proxy headers, asked of the runtime (runtime/fields.ts)",
    (r) => fieldValues(r, ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"], _values),
  ],
  [
    "the access log's three fields, asked of the runtime (runtime/fields.ts)",
    (r) => fieldValues(r, ["authorization", "referer", "user-agent"], _values),
  ],
  ["request.headers, first read", (r) => r.headers],
  ['headers.get("forwarded")', (r) => r.headers.get("forwarded")],
  ['headers.get("x-forwarded-for")', (r) => r.headers.get("x-forwarded-for")],
  ['headers.get("x-forwarded-proto")', (r) => r.headers.get("x-forwarded-proto")],
  ['headers.get("x-forwarded-host")', (r) => r.headers.get("x-forwarded-host")],
  ['headers.get("accept"), as an app reads it', (r) => r.headers.get("accept")],
  ["headers.forEach (a walk for the field limits)", (r) => r.headers.forEach(() => {})],
  ["the client's address", (r, info) => _peer(r, info)],
  ["performance.now()", () => performance.now()],
  ["Date.now()", () => Date.now()],
];

let _server: { requestIP(r: Request): unknown } | undefined;

function _peer(request: Request, info: unknown): unknown {
  return _server ? _server.requestIP(request) : (info as { remoteAddr: unknown }).remoteAddr;
}

const sums = new Float64Array(READS.length);
let requests = 0;
/** Every value read is compared with this, so that the engine cannot drop a read as unused. */
let kept = 0;

function handler(request: Request, info?: unknown): Response {
  for (let i = 0; i < READS.length; i++) {
    const read = (READS[i] as (typeof READS)[number])[1];
    const t0 = performance.now();
    const value = read(request, info);
    sums[i] = (sums[i] as number) + performance.now() - t0;
    if (value === kept) kept++;
  }
  requests++;
  return new Response("Hello, world!");
}

function _serve(): () => void {
  if ("Bun" in globalThis) {
    const server = Bun.serve({ hostname: "127.0.0.1", port: PORT, fetch: handler });
    _server = server as unknown as typeof _server;
    return () => void server.stop(true);
  }
  const deno = (globalThis as unknown as {
    Deno: {
      serve(o: object, h: typeof handler): { shutdown(): Promise<void> };
    };
  }).Deno;
  const server = deno.serve({ hostname: "127.0.0.1", port: PORT, onListen() {} }, handler);
  return () => void server.shutdown();
}

function _wrk(seconds: number): Promise<number> {
  const args = ["-c", "1", "wrk", "-t1", "-c50", `-d${seconds}s`];
  for (const h of HEADERS) args.push("-H", h);
  const child = spawn("taskset", [...args, `http://127.0.0.1:${PORT}/users/42?fields=name`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const stop = _serve();
if (await _wrk(1) !== 0) throw new Error("wrk failed (is it installed?)");
/** Per round, µs a request of each read, the clock's own cost taken off. */
const rounds: number[][] = [];
let total = 0;
for (let round = 0; round < ROUNDS; round++) {
  sums.fill(0);
  requests = 0;
  await _wrk(SECONDS);
  const clock = (sums[0] as number) / requests;
  rounds.push(Array.from(sums, (sum, i) => (i === 0 ? clock : sum / requests - clock) * 1000));
  total += requests;
}
stop();
const runtime = "Bun" in globalThis ? `Bun ${Bun.version}` : `Deno ${process.versions.deno}`;
process.stdout.write(
  `${runtime}, ${total} requests in ${ROUNDS} runs of ${SECONDS} s; µs a request, medians of the runs, ` +
    `the clock's own cost taken off:\n\n| read | µs | lowest | highest |\n| --- | ---: | ---: | ---: |\n`,
);
for (let i = 1; i < READS.length; i++) {
  const values = rounds.map((r) => r[i] as number);
  const [m, lo, hi] = [median(values), Math.min(...values), Math.max(...values)].map((v) => v.toFixed(3));
  process.stdout.write(`| ${(READS[i] as (typeof READS)[number])[0]} | ${m} | ${lo} | ${hi} |\n`);
}
process.stdout.write(
  `\n(the clock pair taken off: ${median(rounds.map((r) => r[0] as number)).toFixed(3)} µs)\n`,
);
process.exit(kept < 0 ? 1 : 0);
