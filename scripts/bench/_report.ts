/**
 * The rows and verdict lines of scripts/bench/main.ts's tables: medians of
 * the rounds, and ratios paired round by round.
 * @module
 */
import type { Sample, Spec } from "./_runs.ts";
import { fixed, int, median, medianInterval, spread } from "./_table.ts";

const _rps = (samples: readonly Sample[]) => median(samples.map((s) => s.requests / s.seconds));

/** Median CPU µs per request. */
export const cpu = (samples: readonly Sample[]): number => median(samples.map((s) => s.cpuUsPerRequest));

/** Median MiB of the serving process (`"server"`) or of corral's master: resident, or private to it. */
export function mib(
  samples: readonly Sample[],
  which: "server" | "master",
  kind: "rss" | "private" = "rss",
): number {
  const kib = (s: Sample) =>
    kind === "rss"
      ? (which === "server" ? s.serverKiB : s.masterKiB)
      : (which === "server" ? s.serverPrivateKiB : s.masterPrivateKiB);
  return median(samples.map((s) => kib(s) / 1024));
}

/** The columns of {@link row}; `ratio` names the req/s ratio's column. */
export function head(ratio: string): string[] {
  return [
    "server",
    "runtime",
    "req/s",
    ratio,
    "CPU µs/req",
    "of which master",
    "RSS MiB",
    "private MiB",
    "master RSS MiB",
    "master private MiB",
    "server core busy",
    "non-2xx / socket errors",
    "req/s spread",
    "other load",
  ];
}

/** One table row: medians over the rounds, req/s against `base`'s when given. */
export function row(spec: Spec, samples: readonly Sample[], base: readonly Sample[] | null): string[] {
  const rps = samples.map((s) => s.requests / s.seconds);
  const corral = spec.kind === "corral";
  return [
    spec.label,
    spec.runtime,
    int(median(rps)),
    base ? `${fixed(median(rps) / _rps(base), 3)}×` : "",
    fixed(cpu(samples)),
    corral ? fixed(median(samples.map((s) => s.masterUsPerRequest))) : "",
    fixed(mib(samples, "server"), 0),
    fixed(mib(samples, "server", "private"), 0),
    corral ? fixed(mib(samples, "master"), 0) : "",
    corral ? fixed(mib(samples, "master", "private"), 0) : "",
    `${fixed(median(samples.map((s) => s.serverCore)), 0)}%`,
    `${samples.reduce((n, s) => n + s.non2xx, 0)} / ${samples.reduce((n, s) => n + s.errors, 0)}`,
    `${fixed(spread(rps))}%`,
    `${fixed(Math.max(...samples.map((s) => s.otherLoad)), 0)}%`,
  ];
}

/**
 * `a`'s figure ÷ `b`'s, round by round: the two ran back to back, so drift
 * of the machine between rounds cancels out (measured here: single runs of
 * one server vary by ±10%).
 */
export function pairedRatios(
  a: readonly Sample[],
  b: readonly Sample[],
  figure: (s: Sample) => number,
): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => figure(a[i] as Sample) / figure(b[i] as Sample));
}

/** The median over rounds of {@link pairedRatios}. */
export function paired(a: readonly Sample[], b: readonly Sample[], figure: (s: Sample) => number): number {
  return median(pairedRatios(a, b, figure));
}

/**
 * Judges a median ratio against `target`, with its 95 % interval
 * `[low, high]`: when the target lies inside it, the run cannot tell, and
 * the verdict says so beside met or MISSED.
 */
export function judge(ratio: number, [low, high]: readonly [number, number], target: number): string {
  const verdict = ratio >= target ? "met" : "MISSED";
  return low < target && target <= high ? `${verdict}, within this run's noise` : verdict;
}

/**
 * A line comparing `a` with `b`: in requests per CPU-second (what a loaded
 * machine gets out of each core, whatever else runs on it), which the
 * target judges, with the 95 % interval of that median; and in req/s.
 * Paired round by round.
 */
export function verdict(what: string, a: readonly Sample[], b: readonly Sample[], target?: number): string {
  if (a.length === 0 || b.length === 0) return `${what}: not measured`;
  const perCores = pairedRatios(a, b, (s) => 1 / s.cpuUsPerRequest);
  const perCore = median(perCores);
  const range = medianInterval(perCores);
  const ratio = paired(a, b, (s) => s.requests / s.seconds);
  const judged = target === undefined ? "" : ` (target ≥ ${target}×): ${judge(perCore, range, target)}`;
  return `${what}: ${fixed(perCore, 3)}× in requests per CPU-second (95 % interval of the median ` +
    `${fixed(range[0], 3)}–${fixed(range[1], 3)}), ${fixed(ratio, 3)}× in req/s${judged}`;
}
