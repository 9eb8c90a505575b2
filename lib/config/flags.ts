/**
 * The command line's flags before node:util's parseArgs reads them: every
 * spelling a user may type (Gunicorn's included) mapped to corral's, and
 * "did you mean" for the ones nobody knows (shared with the config file's
 * unknown keys).
 * @module
 */
import { UsageError } from "../errors.ts";
import { flagLabel, longFlag, SETTINGS } from "./settings.ts";

/** Levenshtein distance, for "did you mean" suggestions. */
function _distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The known key closest to `key`, if it is close enough to be a typo. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = _distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Every flag a user may type (short, long, Gunicorn's aliases): its canonical long flag and label. */
function _flagTable(): Map<string, { long: string; label: string; takesValue: boolean }> {
  const table = new Map<string, { long: string; label: string; takesValue: boolean }>();
  table.set("-h", { long: "--help", label: "-h/--help", takesValue: false });
  table.set("--help", { long: "--help", label: "-h/--help", takesValue: false });
  table.set("-v", { long: "--version", label: "-v/--version", takesValue: false });
  table.set("--version", { long: "--version", label: "-v/--version", takesValue: false });
  for (const s of SETTINGS) {
    const entry = { long: longFlag(s), label: flagLabel(s), takesValue: !s.boolean };
    for (const flag of [...s.flags, ...(s.aliases ?? [])]) table.set(flag, entry);
  }
  return table;
}

/** A value that is a negative number, not an option: `-1`, `-0.5`. */
const _NEGATIVE = /^-\d/;

/**
 * Rewrites a command line so that node:util's parseArgs reads it without
 * guessing: every option by its canonical long flag with its value inline
 * (`--workers=-1`), so Gunicorn's spellings are aliases, a negative number
 * is a value (then refused by the setting, with its reason), and an unknown
 * flag gets a suggestion.
 * @throws {UsageError} for an unknown flag or a missing value.
 */
export function normalizeArgs(args: readonly string[]): string[] {
  const table = _flagTable();
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || _NEGATIVE.test(arg)) {
      out.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = long ? arg.indexOf("=") : -1;
    const name = long ? (eq < 0 ? arg : arg.slice(0, eq)) : arg.slice(0, 2);
    const option = table.get(name);
    if (!option) {
      const close = long ? suggestKey(name, [...table.keys()].filter((f) => f.startsWith("--"))) : undefined;
      throw new UsageError(`Unknown option "${name}"${close ? ` (did you mean ${close}?)` : ""}`);
    }
    const inline = long
      ? (eq < 0 ? undefined : arg.slice(eq + 1))
      : arg.length > 2
      ? arg.slice(2)
      : undefined;
    if (!option.takesValue) {
      // A group of short flags (-hv) goes to parseArgs as it is.
      out.push(long ? (inline === undefined ? option.long : `${option.long}=${inline}`) : arg);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-" && !_NEGATIVE.test(next))) {
        throw new UsageError(`Missing value for ${option.label}`);
      }
      value = next;
      i++;
    }
    out.push(`${option.long}=${value}`);
  }
  return out;
}
