/**
 * scripts/stress/main.ts's results: one row per scenario, runtime, migrate_req
 * and load, as a Markdown table, and whether a row lost requests.
 * @module
 */
import type { RuntimeName } from "./_corral.ts";
import type { Mode } from "./_load.ts";

/** One row of the table. */
export interface Row {
  readonly scenario: string;
  readonly runtime: RuntimeName;
  /** "0", "1", or "n/a" where the kernel has no such setting. */
  readonly migrateReq: string;
  /** Empty when the scenario failed before the load started. */
  readonly load: Mode | "";
  readonly requests: number | null;
  readonly failed: number | null;
  /** Failures the scenario allows (a SIGKILL's in-flight requests), and why; null: none. */
  readonly allowed: { readonly count: number; readonly why: string } | null;
  /** The scenario did not run to its end. */
  readonly error: string | null;
  readonly notes: string;
}

/** A row lost requests: more failures than its scenario allows, or it did not finish. */
export function lost(row: Row): boolean {
  return row.error !== null || row.failed === null || row.failed > (row.allowed?.count ?? 0);
}

function _failed(row: Row): string {
  if (row.failed === null) return "";
  if (row.allowed === null || row.failed === 0) return String(row.failed);
  return `${row.failed} (${row.allowed.count} ${row.allowed.why})`;
}

/** The rows as a Markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const head = ["scenario", "runtime", "migrate_req", "load", "requests", "failed", "notes"];
  const body = rows.map((r) => [
    r.scenario,
    r.runtime,
    r.migrateReq,
    r.load,
    r.requests === null ? "" : String(r.requests),
    _failed(r),
    [r.error ? `ERROR: ${r.error}` : "", r.notes].filter(Boolean).join("; "),
  ]);
  return [head, head.map(() => "---"), ...body]
    .map((cells) => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`)
    .join("\n");
}
