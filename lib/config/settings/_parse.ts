/** Validators shared by the settings sections. */
import { UsageError } from "../../errors.ts";
import type { ParseContext, Setting, Settings } from "../settings.ts";

/** Declares one setting; the identity function, for typing. */
export function define<K extends keyof Settings>(s: Setting<K>): Setting<K> {
  return s;
}

/** A usage error naming the source and the value. */
export function bad(ctx: ParseContext, raw: string, why: string): UsageError {
  return new UsageError(`Invalid value for ${ctx.source}: "${raw}": ${why}`);
}

/** The last of the raw values: a later flag overrides an earlier one. */
export function one(raw: string[]): string {
  return raw[raw.length - 1] ?? "";
}

/** A whole number of at least `min`. */
export function integer(raw: string, ctx: ParseContext, min: number): number {
  if (/^-\d+$/.test(raw.trim())) throw bad(ctx, raw, `must be at least ${min}, not negative`);
  if (!/^\d+$/.test(raw.trim())) throw bad(ctx, raw, "expected a whole number");
  const n = Number(raw);
  if (n < min) throw bad(ctx, raw, `must be at least ${min}`);
  return n;
}

/** A number of seconds, >= 0 (fractions allowed). */
export function seconds(raw: string, ctx: ParseContext): number {
  const n = Number(raw);
  if (n < 0) throw bad(ctx, raw, "a number of seconds cannot be negative");
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw bad(ctx, raw, "expected a number of seconds (>= 0)");
  }
  return n;
}

/** A file path; `~` and `~/...` are expanded. */
export function path(raw: string, ctx: ParseContext): string {
  if (raw === "") throw bad(ctx, raw, "expected a file path");
  if (raw === "~" || raw.startsWith("~/")) {
    if (!ctx.home) throw bad(ctx, raw, "cannot expand ~: $HOME is not set");
    return ctx.home + raw.slice(1);
  }
  return raw;
}

/** One of a fixed list of words. */
export function choice<T extends string>(raw: string, ctx: ParseContext, choices: readonly T[]): T {
  const v = raw.toLowerCase();
  const found = choices.find((c) => c === v);
  if (!found) throw bad(ctx, raw, `expected one of ${choices.join(", ")}`);
  return found;
}

/** A yes/no value: `true` from a bare flag, `true`/`false` from a config file. */
export function yesNo(raw: string[], ctx: ParseContext): boolean {
  const v = one(raw).trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw bad(ctx, one(raw), "expected true or false");
}
