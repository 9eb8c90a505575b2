/**
 * scripts/bench/main.ts's TCP table: per runtime and workload, the bare
 * server, `deno serve --parallel` (Deno), and `corral -w 1` at its
 * defaults and with each per-request part on or off; then the verdicts of
 * issue #17's targets, from ratios paired round by round.
 * @module
 */
import { join } from "node:path";
import { wrkLoad } from "./_load.ts";
import type { Options, RuntimeName, VariantName } from "./_options.ts";
import { cpu, head, mib, row, verdict } from "./_report.ts";
import { type Env, LOAD_CPU, measureEach, type Samples, type Spec } from "./_runs.ts";
import { fixed, markdownTable } from "./_table.ts";
import { type Workload, WORKLOADS } from "./_workloads.ts";

/** The front's per-request checks off: Gunicorn's request limits and the proxy headers. */
export const FRONT_OFF = [
  "--limit-request-line",
  "0",
  "--limit-request-fields",
  "0",
  "--limit-request-field-size",
  "0",
  "--forwarded-allow-ips=",
] as const;

/** Every per-request part off: the front, the hang watchdog and the slow-client timeouts. */
export const NOTHING = [
  ...FRONT_OFF,
  "--timeout",
  "0",
  "--header-timeout",
  "0",
  "--body-timeout",
  "0",
] as const;

/** Gunicorn's field limits, which corral leaves to the runtime's caps by default (issue #17). */
const GUNICORN_FIELDS = ["--limit-request-fields", "100", "--limit-request-field-size", "8190"] as const;

/** What a reverse proxy that ends TLS adds to each request (from 127.0.0.1, trusted by default). */
const PROXIED = ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https"] as const;

/** The specs of one runtime and workload, by variant (those `opts` asks for and the runtime has). */
function _specs(
  runtime: RuntimeName,
  workload: Workload,
  opts: Options,
  tmp: string,
): Map<VariantName, Spec> {
  const base = { runtime, transport: "tcp", workers: 1, workload } as const;
  const bare = `bare ${runtime === "deno" ? "Deno" : "Bun"}.serve`;
  const corral = (label: string, args: readonly string[], headers?: readonly string[]): Spec => ({
    ...base,
    kind: "corral",
    label: `corral -w 1${label}`,
    args,
    ...(headers ? { headers } : {}),
  });
  const all: [VariantName, Spec][] = [
    ["bare", { ...base, kind: "bare", label: bare }],
    // The same server again: how far two identical servers' ratio strays in this run.
    ["again", { ...base, kind: "bare", label: `${bare}, again (A/A control)` }],
    ...(runtime === "deno"
      ? [["serve", { ...base, kind: "deno serve", label: "deno serve --parallel (1 isolate)" }] as [
        VariantName,
        Spec,
      ]]
      : []),
    ["defaults", corral("", [])],
    ["gunicorn", corral(", Gunicorn's field limits", GUNICORN_FIELDS)],
    [
      "log",
      corral(", access log on", ["--access-logfile", join(tmp, `access-${runtime}-${workload.name}.log`)]),
    ],
    ["front-off", corral(", limits and proxy headers off", FRONT_OFF)],
    // Nothing per request: what the wrapper itself costs.
    ["none", corral(", nothing per request", NOTHING)],
    // As behind nginx with TLS: every request comes from a trusted proxy.
    ["proxy", corral(", behind a proxy (X-Forwarded-For, -Proto)", [], PROXIED)],
  ];
  return new Map(all.filter(([name]) => opts.variants.includes(name)));
}

/** The verdict lines of one runtime and workload. */
function _verdicts(group: Map<VariantName, Spec>, samples: Samples): string[] {
  const of = (name: VariantName) => samples.get(group.get(name) as Spec) ?? [];
  const any = [...group.values()][0] as Spec;
  const at = `${any.runtime}, ${any.workload.name}`;
  const hono = any.workload.name === "hono";
  const lines = [
    verdict(
      `${at}: A/A control, bare again ÷ bare (identical servers: this run's noise)`,
      of("again"),
      of("bare"),
    ),
    verdict(`${at}: nothing per request ÷ bare`, of("none"), of("bare"), 0.99),
    verdict(`${at}: defaults ÷ bare`, of("defaults"), of("bare"), hono ? 0.95 : undefined),
  ];
  if (any.runtime === "deno") {
    lines.push(
      verdict(`${at}: defaults ÷ deno serve --parallel`, of("defaults"), of("serve"), hono ? undefined : 1),
    );
  }
  lines.push(
    verdict(
      `${at}: access log on ÷ off`,
      of("log"),
      of("defaults"),
      any.runtime === "deno" ? 0.85 : undefined,
    ),
  );
  const us = (name: VariantName, from: VariantName) =>
    of(name).length && of(from).length ? `${fixed(cpu(of(name)) - cpu(of(from)), 2)} µs` : "not measured";
  lines.push(
    `${at}: per request, Gunicorn's field limits would cost ${us("gunicorn", "defaults")}, ` +
      `the request line limit and proxy headers cost ${us("defaults", "front-off")}, ` +
      `--timeout and the slow-client timeouts ${us("front-off", "none")}, ` +
      `a trusted proxy's headers ${us("proxy", "defaults")}`,
  );
  if (of("defaults").length && of("bare").length) {
    const extra = mib(of("defaults"), "server") - mib(of("bare"), "server");
    const master = mib(of("defaults"), "master");
    const own = mib(of("defaults"), "server", "private") - mib(of("bare"), "server", "private");
    const ownMaster = mib(of("defaults"), "master", "private");
    lines.push(
      `${at}: a worker at the defaults uses ${fixed(extra, 1)} MiB more than the bare server ` +
        `(target ≤ 15): ${extra <= 15 ? "met" : "MISSED"}; the master ${fixed(master, 1)} MiB ` +
        `(target ≤ 40): ${master <= 40 ? "met" : "MISSED"}. In private memory (what one more ` +
        `worker costs): the worker ${fixed(own, 1)} MiB more than the bare server, the master ` +
        `${fixed(ownMaster, 1)} MiB`,
    );
  }
  if (of("again").length && of("bare").length) {
    // Each server keeps the heap its own load grew: two identical ones can differ by more than a target.
    const rss = mib(of("again"), "server") - mib(of("bare"), "server");
    const own = mib(of("again"), "server", "private") - mib(of("bare"), "server", "private");
    lines.push(
      `${at}: A/A control, memory: the bare server again uses ${fixed(rss, 1)} MiB more RSS and ` +
        `${fixed(own, 1)} MiB more private memory than the bare server (identical servers: this run's noise)`,
    );
  }
  return lines;
}

/** Runs the TCP table; returns it in Markdown with its verdict lines. */
export async function tcpTable(opts: Options, env: Env): Promise<string> {
  const groups = opts.runtimes.flatMap((runtime) =>
    opts.workloads.map((name) => _specs(runtime, WORKLOADS[name], opts, env.tmp))
  ).filter((group) => group.size > 0);
  const samples = await measureEach(opts)(
    groups.flatMap((group) => [...group.values()]),
    wrkLoad(env.tools, opts.connections, LOAD_CPU),
    env,
  );
  const out: string[] = [];
  for (const group of groups) {
    const any = [...group.values()][0] as Spec;
    const bare = group.has("bare") ? samples.get(group.get("bare") as Spec) ?? null : null;
    const rows = [...group.values()].map((spec) =>
      row(spec, samples.get(spec) ?? [], spec === group.get("bare") ? null : bare)
    );
    out.push(
      `### ${any.runtime}, ${any.workload.name}: GET ${any.workload.path}\n\n` +
        `${markdownTable(head("vs bare"), rows)}\n\n${_verdicts(group, samples).join("\n")}`,
    );
  }
  return `Ratios: medians of each round's own ratio.\n\n${out.join("\n\n")}`;
}
