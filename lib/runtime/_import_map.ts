/**
 * A Deno config's import map, read the way Deno reads it, for a runtime
 * that does not (Bun: bun_deno_config.ts): the `imports` of the
 * deno.json or deno.jsonc nearest to the app, and of the file its
 * `importMap` names; and `npm:` specifiers, as the packages they name.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** An import map and the config file it came from. */
export interface ImportMap {
  /** The deno.json(c) it was read from. */
  readonly path: string;
  /** Specifier (or prefix, ending in "/") to target. */
  readonly imports: Readonly<Record<string, string>>;
}

/** Calls `outside` for each character of `text` outside its strings; strings are copied as they are. */
function _outsideStrings(text: string, outside: (i: number) => { out: string; next: number }): string {
  let out = "";
  for (let i = 0; i < text.length;) {
    if (text[i] === '"') {
      const string = /"(?:[^"\\]|\\.)*"?/y;
      string.lastIndex = i;
      const s = (string.exec(text) as RegExpExecArray)[0];
      out += s;
      i += s.length;
    } else {
      const step = outside(i);
      out += step.out;
      i = step.next;
    }
  }
  return out;
}

/**
 * Parses JSON with comments and trailing commas (deno.jsonc).
 * @throws {SyntaxError} when it is not JSON even so.
 */
export function parseJsonc(text: string): unknown {
  const bare = _outsideStrings(text, (i) => {
    if (text.startsWith("//", i)) {
      const end = text.indexOf("\n", i);
      return { out: "", next: end < 0 ? text.length : end };
    }
    if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      return { out: " ", next: end < 0 ? text.length : end + 2 };
    }
    return { out: text[i] as string, next: i + 1 };
  });
  const closing = /\s*[}\]]/y;
  const strict = _outsideStrings(bare, (i) => {
    closing.lastIndex = i + 1;
    const trailing = bare[i] === "," && closing.test(bare);
    return { out: trailing ? "" : bare[i] as string, next: i + 1 };
  });
  return JSON.parse(strict);
}

function _imports(value: unknown, base: string, what: string): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${what}: "imports" is not an object`);
  }
  const out: Record<string, string> = {};
  for (const [key, target] of Object.entries(value)) {
    if (typeof target !== "string") throw new TypeError(`${what}: the import "${key}" is not a string`);
    // Relative targets are relative to the file that maps them; a prefix keeps its "/".
    const slash = target.endsWith("/") ? "/" : "";
    out[key] = /^\.{0,2}\//.test(target) ? pathToFileURL(resolve(base, target)).href + slash : target;
  }
  return out;
}

/**
 * The import map of the deno.json or deno.jsonc in `dir` or the nearest
 * folder above it; null when there is none.
 * @throws {TypeError|SyntaxError} naming the file when it cannot be read as one.
 */
export function findDenoConfig(dir: string): ImportMap | null {
  for (let at = resolve(dir);; at = dirname(at)) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = join(at, name);
      if (existsSync(path)) return _readConfig(path);
    }
    if (dirname(at) === at) return null;
  }
}

function _readConfig(path: string): ImportMap {
  let config: { imports?: unknown; importMap?: unknown };
  try {
    config = parseJsonc(readFileSync(path, "utf8")) as typeof config;
  } catch (err) {
    throw new SyntaxError(`Cannot read "${path}": ${(err as Error).message}`);
  }
  const base = dirname(path);
  let imports: Record<string, string> = {};
  if (typeof config.importMap === "string") {
    const file = isAbsolute(config.importMap) ? config.importMap : resolve(base, config.importMap);
    let map: { imports?: unknown };
    try {
      map = parseJsonc(readFileSync(file, "utf8")) as typeof map;
    } catch (err) {
      throw new SyntaxError(`Cannot read the importMap "${file}" of "${path}": ${(err as Error).message}`);
    }
    imports = _imports(map.imports, dirname(file), file);
  }
  // As in Deno, a config's own "imports" win over its importMap file's.
  return { path, imports: { ...imports, ..._imports(config.imports, base, path) } };
}

/**
 * The target `specifier` maps to: an exact key, else the longest key
 * ending in "/" that starts it; undefined when none does.
 */
export function mapSpecifier(map: ImportMap, specifier: string): string | undefined {
  const exact = map.imports[specifier];
  if (exact !== undefined) return exact;
  let best = "";
  for (const key of Object.keys(map.imports)) {
    if (key.endsWith("/") && specifier.startsWith(key) && key.length > best.length) best = key;
  }
  return best ? (map.imports[best] as string) + specifier.slice(best.length) : undefined;
}

/**
 * The package path an `npm:` specifier names, without its version:
 * `npm:@scope/pkg@^1.2/sub` is `@scope/pkg/sub`. null when it is not one.
 */
export function npmPackagePath(specifier: string): string | null {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@[^/]*)?(\/.*)?$/.exec(specifier);
  return m ? (m[1] as string) + (m[2] ?? "") : null;
}
