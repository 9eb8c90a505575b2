/// <reference path="./_bun_build.d.ts" />
/**
 * On Bun, an app written for Deno: the bare specifiers its deno.json(c)
 * maps, and `npm:` specifiers, which Bun alone does not resolve. The
 * packages come from the app's node_modules, as `deno install` (with a
 * node_modules folder) or `npm install` leave them.
 *
 * Bun's runtime resolver takes no plugin for the imports of a module it
 * loads (oven-sh/bun#40579), so the app's own modules are built into one
 * module with the bundler Bun carries (Bun.build, in the single binary
 * too) and a resolver plugin, in a private temporary folder, and that is
 * imported. Packages stay out of it: they load from node_modules as Bun
 * loads any package. The app's modules keep their own `import.meta.url`,
 * `dirname`, `filename` (and Bun's `dir`, `path`). Tried only after Bun's
 * own import failed on such a specifier.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { findDenoConfig, type ImportMap, mapSpecifier, npmPackagePath } from "./_import_map.ts";

const _META = /\bimport\.meta\.(url|dirname|filename|dir|path)\b/g;

/** The module's source with its own import.meta values, which the bundle would otherwise change. */
export function withOwnImportMeta(code: string, path: string): string {
  if (!code.match(_META)) return code;
  const values = { url: pathToFileURL(path).href, dirname: dirname(path), filename: path };
  const meta = JSON.stringify({ ...values, dir: values.dirname, path });
  // An identifier, not a string literal: valid wherever the expression was, in a string or a comment too.
  const body = code.replace(_META, "__corral_import_meta.$1");
  const shebang = body.startsWith("#!") ? body.slice(0, body.indexOf("\n") + 1) : "";
  return `${shebang}const __corral_import_meta = ${meta};\n${body.slice(shebang.length)}`;
}

function _loader(path: string): "ts" | "tsx" | "js" | "jsx" {
  const ext = extname(path);
  return ext === ".tsx" ? "tsx" : ext === ".jsx" ? "jsx" : /^\.[cm]?ts$/.test(ext) ? "ts" : "js";
}

/** Where a specifier of the app's modules goes: bundled (undefined), or external at a path or name. */
function _resolve(map: ImportMap | null, specifier: string, importer: string) {
  const mapped = map ? mapSpecifier(map, specifier) : undefined;
  const target = mapped ?? specifier;
  const via = mapped ? ` (mapped to "${mapped}" by ${map?.path})` : "";
  if (target.startsWith("file:")) return { path: fileURLToPath(target) };
  if (/^\.{0,2}\//.test(target)) return undefined;
  if (/^(node|bun):/.test(target)) return { path: target, external: true };
  const scheme = /^(jsr|https?|data):/.exec(target)?.[1];
  if (scheme) throw new Error(`Cannot import "${specifier}"${via}: Bun cannot load ${scheme}: specifiers`);
  const name = target.startsWith("npm:") ? npmPackagePath(target) : target;
  if (!name) throw new Error(`Cannot import "${specifier}"${via}: not an npm: specifier Bun can map`);
  try {
    return { path: Bun.resolveSync(name, dirname(importer)), external: true };
  } catch {
    throw new Error(
      `Cannot find package "${name}" for "${specifier}"${via} in a node_modules folder above ${importer}: ` +
        "install it (deno install with a node_modules folder, or npm install)",
    );
  }
}

function _plugin(map: ImportMap | null): Bun.BunPlugin {
  return {
    name: "corral-deno-config",
    setup(build) {
      build.onResolve(
        { filter: /.*/ },
        ({ path, importer }) => importer ? _resolve(map, path, importer) : undefined,
      );
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, ({ path }) => {
        if (path.includes("/node_modules/")) return undefined;
        return { contents: withOwnImportMeta(readFileSync(path, "utf8"), path), loader: _loader(path) };
      });
    },
  };
}

/** Whether Bun's import failed on a specifier that a Deno config or an npm: prefix may explain. */
function _denoSpecifier(failure: unknown): string | null {
  const e = failure as { name?: string; specifier?: unknown } | null;
  if (e?.name !== "ResolveMessage" || typeof e.specifier !== "string") return null;
  return /^(\.{0,2}\/|file:)/.test(e.specifier) ? null : e.specifier;
}

/**
 * Imports the app at `url` as Deno would resolve it, after Bun's own import
 * failed with `failure`; null when that failure is not one this can help
 * with (no Deno config above the app, no `npm:` specifier).
 * @throws {Error} naming the specifier or package it cannot resolve.
 */
export async function importWithDenoConfig(
  url: string,
  failure: unknown,
): Promise<Record<string, unknown> | null> {
  const specifier = _denoSpecifier(failure);
  if (!specifier || !url.startsWith("file:")) return null;
  const entry = fileURLToPath(url);
  const map = findDenoConfig(dirname(entry));
  if (!map && !specifier.startsWith("npm:")) return null;
  const built = await Bun.build({
    entrypoints: [entry],
    target: "bun",
    format: "esm",
    sourcemap: "inline",
    plugins: [_plugin(map)],
    throw: false,
  });
  const output = built.outputs[0];
  if (!built.success || !output) {
    // The first failure, as every other load error: one line.
    const more = built.logs.length > 1 ? ` (and ${built.logs.length - 1} more)` : "";
    throw new Error(`${built.logs[0]?.message ?? "Bun.build failed"}${more}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "corral-app-"));
  try {
    const file = join(dir, "app.mjs");
    writeFileSync(file, await output.text());
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
