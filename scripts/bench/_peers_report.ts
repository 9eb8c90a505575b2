/**
 * The tables and verdicts of `scripts/bench/main.ts --peers`, in Markdown, so a
 * run's output can be pasted into docs/BENCHMARKS.md as it is.
 * @module
 */
import type { BootTimes } from "./_peers_boot.ts";
import type { Config, Sample } from "./_peers_measure.ts";
import { coreList, layout } from "./_peers_start.ts";
import { fixed, int, markdownTable, median, spread } from "./_table.ts";

/** A row's runs, or why it has none. */
export interface Row {
  readonly config: Config;
  readonly samples: readonly Sample[];
  readonly failure: string | null;
}

/** Worker boot under this many ms is the target. */
export const BOOT_TARGET_MS = 150;

const _rps = (s: Sample) => s.requests / s.seconds;

/** Median req/s, CPU µs/request and p99 of a row; NaN without runs. */
export function summary(row: Row | undefined) {
  const samples = row?.samples ?? [];
  if (samples.length === 0) return { rps: NaN, cpuUs: NaN, p99: NaN };
  return {
    rps: median(samples.map(_rps)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
    p99: median(samples.map((s) => s.p99Ms)),
  };
}

const _mib = (kib: number) => fixed(kib / 1024, 0);

/** The run with the median req/s: its memory figures stand for the row. */
function _typical(samples: readonly Sample[]): Sample | undefined {
  const sorted = [...samples].sort((a, b) => _rps(a) - _rps(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function _ratio(n: number): string {
  return Number.isFinite(n) ? `${fixed(n, 2)}×` : "";
}

/** The corral row of `runtime` with the same worker count as `row`. */
function _corralOf(rows: readonly Row[], runtime: "deno" | "bun", workers: number): Row | undefined {
  return rows.find((r) => r.config.peer.corral === runtime && r.config.workers === workers);
}

function _cells(row: Row, rows: readonly Row[], cores: number): string[] {
  const { config, samples } = row;
  const where = layout(config.workers, cores);
  const workers = `${config.workers} (core${where.server.length > 1 ? "s" : ""} ${coreList(where.server)}` +
    `${where.shared ? ", shared with wrk" : ""})`;
  if (samples.length === 0) return [config.peer.label, workers, `failed: ${row.failure ?? "no run"}`];
  const own = summary(row);
  const deno = summary(_corralOf(rows, "deno", config.workers));
  const bun = summary(_corralOf(rows, "bun", config.workers));
  const typical = _typical(samples) as Sample;
  return [
    config.peer.label,
    workers,
    int(own.rps),
    _ratio(own.rps / deno.rps),
    _ratio(own.rps / bun.rps),
    fixed(own.p99, 2),
    fixed(own.cpuUs),
    _ratio(own.cpuUs / deno.cpuUs),
    _mib(typical.rssMasterKiB),
    typical.rssWorkersKiB.length ? typical.rssWorkersKiB.map(_mib).join(" + ") : "–",
    _mib(typical.privateKiB),
    fixed(median(samples.map((s) => s.firstResponseMs)), 0),
    `${samples.reduce((n, s) => n + s.non2xx, 0)} / ${samples.reduce((n, s) => n + s.errors, 0)}`,
    samples.length > 1 ? `${fixed(spread(samples.map(_rps)))}% (${samples.length})` : "",
    `${fixed(Math.max(...samples.map((s) => s.otherLoad)), 0)}%`,
  ];
}

const _HEAD = [
  "server",
  "workers (cores)",
  "req/s",
  "req/s ÷ corral Deno",
  "req/s ÷ corral Bun",
  "p99 ms",
  "CPU µs/req",
  "CPU/req ÷ corral Deno",
  "RSS master MiB",
  "RSS workers MiB",
  "private MiB, all processes",
  "start → 1st response ms",
  "non-2xx / socket errors",
  "req/s spread (runs)",
  "other load",
];

/** One workload's table. */
export function scenarioTable(rows: readonly Row[], cores: number): string {
  return markdownTable(_HEAD, rows.map((row) => _cells(row, rows, cores)));
}

function _find(rows: readonly Row[], id: string, workers: number): Row | undefined {
  return rows.find((r) => r.config.peer.id === id && r.config.workers === workers);
}

function _verdict(what: string, ratio: number, target: number): string[] {
  if (!Number.isFinite(ratio)) return [];
  return [`- ${what}: ${fixed(ratio, 2)}× (target ≥ ${target}×): ${ratio >= target ? "met" : "MISSED"}`];
}

/**
 * The targets, for one workload. With as many workers as cores the
 * servers share their cores with wrk, and only CPU time per request
 * (corral's per-core cost) decides.
 */
export function verdicts(rows: readonly Row[], cores: number): string[] {
  const lines: string[] = [];
  const corral = (n: number) => summary(_find(rows, "corral-deno", n));
  const speed = (id: string, n: number) => corral(n).rps / summary(_find(rows, id, n)).rps;
  const perCore = (id: string, n: number) => summary(_find(rows, id, n)).cpuUs / corral(n).cpuUs;
  const counts = [...new Set(rows.map((r) => r.config.workers))].sort((a, b) => a - b);
  const apart = (n: number) => !layout(n, cores).shared;
  const judge = (id: string, name: string, target: number) => {
    for (const n of counts) {
      if (!_find(rows, id, n)) continue;
      if (apart(n)) {
        lines.push(..._verdict(`corral on Deno ×${n} vs ${name} ×${n}, req/s`, speed(id, n), target));
      }
      lines.push(
        ..._verdict(`corral on Deno ×${n} vs ${name} ×${n}, per core (CPU/req)`, perCore(id, n), target),
      );
    }
  };
  lines.push(..._verdict("corral on Deno ×1 vs bare Deno.serve, req/s", speed("deno-bare", 1), 0.97));
  judge("deno-parallel", "deno serve --parallel", 1.0);
  judge("node-cluster", "Node cluster", 2);
  for (const n of counts) {
    const sync = perCore("gunicorn-sync", n);
    const gthread = perCore("gunicorn-gthread", n);
    // Against the better of Gunicorn's two workers.
    const best = [sync, gthread].filter(Number.isFinite);
    const ratio = best.length ? Math.min(...best) : NaN;
    lines.push(
      ..._verdict(`corral on Deno ×${n} vs the better Gunicorn ×${n}, per core (CPU/req)`, ratio, 15),
    );
  }
  const bun = summary(_find(rows, "corral-bun", 1)).rps / summary(_find(rows, "bun-bare", 1)).rps;
  lines.push(..._verdict("corral on Bun ×1 vs bare Bun.serve, req/s (for reference)", bun, 0.97));
  return lines;
}

/** The boot table: one row per corral configuration. */
export function bootTable(boots: readonly { label: string; workers: number; times: BootTimes }[]): string {
  const range = (values: readonly number[]) =>
    values.length ? `${fixed(median(values), 0)} / ${fixed(Math.max(...values), 0)}` : "n/a";
  const rows = boots.map(({ label, workers, times }) => [
    label,
    String(workers),
    range(times.firstResponseMs),
    range(times.workerBootMs),
    range(times.workerCpuMs),
    String(times.workerBootMs.length),
    times.workerBootMs.length && median(times.workerBootMs) < BOOT_TARGET_MS ? "met" : "MISSED",
    times.otherLoad.length ? `${fixed(Math.max(...times.otherLoad), 0)}%` : "",
  ]);
  return markdownTable(
    [
      "server",
      "workers",
      "start → 1st response ms (median / max)",
      "worker spawn → ready ms (median / max)",
      "worker CPU at ready ms (median / max)",
      "workers booted",
      `boot < ${BOOT_TARGET_MS} ms (median)`,
      "other load (max)",
    ],
    rows,
  );
}
