/**
 * Numbers and tables for scripts/bench/main.ts. Tables are Markdown, so a run's
 * output can be pasted into docs/BENCHMARKS.md as it is.
 * @module
 */

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * A 95 % confidence interval of the median, from the values alone (no
 * assumption on their distribution): the sorted values whose ranks the
 * binomial's normal approximation gives, n/2 ∓ 0.98·√n. More rounds narrow
 * it; with 10 values it is nearly the lowest to the highest.
 */
export function medianInterval(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return [NaN, NaN];
  const reach = 0.98 * Math.sqrt(n);
  // 1-based ranks, as the approximation is written.
  const low = Math.max(1, Math.floor(n / 2 - reach));
  const high = Math.min(n, Math.ceil(n / 2 + 1 + reach));
  return [sorted[low - 1] as number, sorted[high - 1] as number];
}

/** (max − min) / median as a percentage: how far the rounds disagree. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  return m > 0 ? (Math.max(...values) - Math.min(...values)) / m * 100 : 0;
}

/** `123,456` */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** `12.3` */
export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** A Markdown table with right-aligned numeric columns. */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  // Numbers line up on the right; the first two columns are names.
  const cell = (text: string, i: number) =>
    i < 2 ? text.padEnd(widths[i] as number) : text.padStart(widths[i] as number);
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `|${
    widths.map((w, i) => i < 2 ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w - 1)}: `).join("|")
  }|`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}
