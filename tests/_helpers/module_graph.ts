/**
 * The modules a process loads for sure: the static imports (not `import
 * type`, not `await import()`) reachable from its entries, read from the
 * sources. Used to keep a worker's graph free of what only the master uses.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./corral.ts";

const _STATIC =
  /^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm;

/** Every module statically reachable from `entries` (paths from the root): local files and bare specifiers. */
export function staticGraph(entries: readonly string[]): { files: string[]; external: string[] } {
  const files = new Set<string>();
  const external = new Set<string>();
  const todo = entries.map((e) => resolve(ROOT, e));
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(_STATIC)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith(".")) todo.push(join(dirname(file), spec));
      else external.add(spec);
    }
  }
  return { files: [...files].map((f) => relative(ROOT, f)).sort(), external: [...external].sort() };
}
