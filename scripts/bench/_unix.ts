/**
 * scripts/bench/main.ts's unix table: corral -w 1 over TCP, over a unix
 * socket it serves itself, and -w 2 behind the master's relay, all driven
 * by the same small keep-alive client (wrk cannot open a unix socket).
 * @module
 */
import { clientLoad } from "./_load.ts";
import type { Options } from "./_options.ts";
import { head, row } from "./_report.ts";
import { type Env, LOAD_CPU, measureEach, type Spec } from "./_runs.ts";
import { markdownTable } from "./_table.ts";
import { WORKLOADS } from "./_workloads.ts";

/** Runs the unix table on hello world; returns it in Markdown. */
export async function unixTable(opts: Options, env: Env): Promise<string> {
  const groups = opts.runtimes.map((runtime): Spec[] => {
    const base = { runtime, kind: "corral", workload: WORKLOADS.hello } as const;
    return [
      { ...base, label: "corral -w 1, TCP", transport: "tcp", workers: 1 },
      { ...base, label: "corral -w 1, unix (direct)", transport: "unix", workers: 1 },
      { ...base, label: "corral -w 2, unix (relay)", transport: "unix", workers: 2 },
    ];
  });
  const samples = await measureEach(opts)(
    groups.flat(),
    clientLoad(env.tools, opts.connections, LOAD_CPU),
    env,
  );
  const rows = groups.flatMap((group) => {
    const tcp = samples.get(group[0] as Spec) ?? [];
    return group.map((spec) => row(spec, samples.get(spec) ?? [], spec.transport === "tcp" ? null : tcp));
  });
  return `Load client: scripts/bench/_unix_client.ts on ${env.tools.client}\n\n` +
    markdownTable(head("vs TCP"), rows);
}
