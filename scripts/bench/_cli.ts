/**
 * What the benchmark scripts' command lines share: the usage error, the
 * parsers of numbers and lists, and "parse, or print the usage and say
 * which exit code". Only node: built-ins, so it runs on Deno and Bun.
 * @module
 */
import process from "node:process";
import { killAllServers } from "./_proc.ts";

/** Exit code of a run that failed. */
export const EXIT_FAILED = 1;
/** Exit code of a bad command line. */
export const EXIT_USAGE = 2;

/** The flags of every benchmark's runs, for parseArgs. */
export const RUN_FLAGS = {
  duration: { type: "string", short: "d" },
  warmup: { type: "string", short: "w" },
  connections: { type: "string", short: "c" },
  rounds: { type: "string", short: "r" },
} as const;

/** A flag with a bad value; parseArgs throws TypeError for unknown flags. */
export class UsageError extends Error {}

/** A number flag's value, `fallback` when absent. @throws {UsageError} below `min` or not a number. */
export function numberFlag(raw: string | undefined, fallback: number, flag: string, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min) {
    throw new UsageError(`Invalid value for ${flag}: "${raw}": expected a number >= ${min}`);
  }
  return n;
}

/** A comma-separated list flag's items. @throws {UsageError} when empty or with an item not in `allowed`. */
export function listFlag<T extends string>(raw: string, allowed: readonly T[], flag: string): T[] {
  const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0 || items.some((s) => !allowed.includes(s as T))) {
    throw new UsageError(`Invalid value for ${flag}: "${raw}": expected a list of ${allowed.join(", ")}`);
  }
  return items as T[];
}

/**
 * Parses `args` with `parse`. On a usage error it prints the message and
 * `usage` on stderr and returns EXIT_USAGE; on --help it prints `usage` on
 * stdout and returns 0.
 */
export function parseOrUsage<T>(
  parse: (args: string[]) => T | "help",
  usage: string,
  args: string[],
): T | number {
  let parsed: T | "help";
  try {
    parsed = parse(args);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof TypeError)) throw err;
    process.stderr.write(`bench: ${err.message}\n${usage}\n`);
    return EXIT_USAGE;
  }
  if (parsed === "help") {
    process.stdout.write(usage + "\n");
    return 0;
  }
  return parsed;
}

/**
 * Runs `body` within `boundS` seconds: past them every server is killed and
 * the process exits with EXIT_FAILED. An error is printed and gives
 * EXIT_FAILED; either way the servers are killed and `cleanup` runs.
 */
export async function runBounded(
  boundS: number,
  body: () => Promise<number>,
  cleanup: () => void,
): Promise<number> {
  // Every step has its own timeout; this is the backstop for the whole run.
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: gave up after ${boundS} s\n`);
    killAllServers();
    process.exit(EXIT_FAILED);
  }, boundS * 1000);
  try {
    return await body();
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : err}\n`);
    return EXIT_FAILED;
  } finally {
    clearTimeout(watchdog);
    killAllServers();
    cleanup();
  }
}
