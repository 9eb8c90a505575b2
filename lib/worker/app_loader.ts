/**
 * Loads the app module and finds its fetch handler.
 * @module
 */
import type { AppSpec } from "../config/config.ts";
import { AppLoadError, describeError, describeImportFailure } from "../errors.ts";
import { type ErrorHandler, type Handler, runtime } from "../runtime/mod.ts";
import { sys } from "../runtime/sys.ts";

/** What an app module may export: a handler object or a handler function. */
export type App = Handler | { fetch: Handler };

/** An app as the worker serves it. */
export interface LoadedApp {
  readonly handler: Handler;
  /**
   * The export's `error(error)` (Bun.serve's convention, kept on both
   * runtimes): it answers a request whose handler threw, instead of 500.
   */
  readonly error: ErrorHandler | null;
  /** The export object, for the runtime's own serve keys (ServeSpec.app); null for a function. */
  readonly exported: object | null;
}

/**
 * Keys of a served module that say where and how to listen: corral's, from
 * its settings, whatever the export says.
 */
const _OWNED_KEYS: Readonly<Record<string, string>> = {
  port: "-b/--bind",
  hostname: "-b/--bind",
  unix: "-b unix:PATH",
  reusePort: "corral (every worker binds with SO_REUSEPORT)",
  ipv6Only: "-b/--bind",
  tls: "--certfile and --keyfile",
  idleTimeout: "--keep-alive",
};

/** The app compiled into a binary (scripts/compile.ts): its module's name, exports and the export to serve. */
export interface BuiltinApp {
  readonly name: string;
  readonly exports: Readonly<Record<string, unknown>>;
  readonly exportName: string;
}

/**
 * The built-in app's export, checked to be a handler.
 * @throws {AppLoadError} when it is not one.
 */
export function builtinApp(app: BuiltinApp): App {
  const value = app.exports[app.exportName];
  try {
    toHandler(value);
  } catch (err) {
    throw new AppLoadError(`Cannot load app "${app.name}": export "${app.exportName}" ${describeError(err)}`);
  }
  return value as App;
}

/** Resolves APP_MODULE to an import specifier: a URL stays, a path is made absolute. */
export function resolveModule(module: string, cwd: string): string {
  // A scheme of two letters or more: `C:\app.ts` is a path, `https://` a URL.
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) return module;
  return _fileUrl(module.startsWith("/") ? module : `${cwd.replace(/\/+$/, "")}/${module}`);
}

/**
 * The file URL of an absolute path, escaped as node:url's pathToFileURL
 * escapes it (a worker imports no `node:` module, see lib/runtime/sys.ts):
 * the pathname setter resolves `.` and `..` and escapes what a URL's path
 * must; `%`, `\` and the control characters it would drop are escaped first.
 */
function _fileUrl(path: string): string {
  const url = new URL("file:///");
  url.pathname = path.replace(/%/g, "%25").replace(/\\/g, "%5C").replace(/\n/g, "%0A").replace(/\r/g, "%0D")
    .replace(/\t/g, "%09");
  return url.href;
}

function _kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object without a fetch method";
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

/**
 * Turns an export into a handler, or explains why it is not one.
 * @throws {TypeError} when the value is not a handler.
 */
export function toHandler(value: unknown): Handler {
  if (typeof value === "function") return value as Handler;
  if (value !== null && typeof value === "object") {
    const fetch = (value as { fetch?: unknown }).fetch;
    if (typeof fetch === "function") {
      const app = value as { fetch: Handler };
      return (request, info) => app.fetch(request, info);
    }
  }
  throw new TypeError(
    `expected a function or an object with a fetch(request, info) method, got ${_kind(value)}`,
  );
}

/** The export as the worker serves it. @throws {TypeError} when it is not a handler. */
export function toApp(value: unknown): LoadedApp {
  const handler = toHandler(value);
  if (typeof value !== "object" || value === null) return { handler, error: null, exported: null };
  const error = (value as { error?: unknown }).error;
  return {
    handler,
    error: typeof error === "function" ? (err) => error.call(value, err) : null,
    exported: value,
  };
}

/**
 * One warning per key of the export that corral owns (`port`, `hostname`,
 * `tls`...), naming the setting that decides it instead.
 */
export function ownedKeyWarnings(exported: object | null): string[] {
  if (exported === null) return [];
  const warnings: string[] = [];
  for (const [key, setting] of Object.entries(_OWNED_KEYS)) {
    const value = (exported as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const shown = typeof value === "object" ? "{...}" : JSON.stringify(value);
    warnings.push(
      `The app's export sets ${key}: ${shown}, which corral ignores: it is decided by ${setting}`,
    );
  }
  return warnings;
}

/**
 * Imports APP_MODULE and returns its handler, with its error handler and
 * serve options.
 * @throws {AppLoadError} with one line naming the module and the cause.
 */
export async function loadApp(spec: AppSpec, cwd: string): Promise<LoadedApp> {
  const fail = (why: string, cause?: unknown) =>
    new AppLoadError(`Cannot load app "${spec.module}": ${why}`, cause ? { cause } : undefined);
  const specifier = resolveModule(spec.module, cwd);
  if (specifier.startsWith("file:")) {
    const path = new URL(specifier).pathname;
    if (!sys.exists(decodeURIComponent(path))) throw fail(`module not found at ${decodeURIComponent(path)}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(specifier);
  } catch (err) {
    // Bun, for an app written for Deno (a deno.json's imports, npm: specifiers).
    let second: Record<string, unknown> | null;
    try {
      second = await runtime.importApp?.(specifier, err) ?? null;
    } catch (again) {
      throw fail(describeImportFailure(again), again);
    }
    if (!second) throw fail(describeImportFailure(err), err);
    mod = second;
  }
  if (!(spec.exportName in mod) || mod[spec.exportName] === undefined) {
    const names = Object.keys(mod).filter((k) => mod[k] !== undefined);
    const has = names.length ? `it exports: ${names.join(", ")}` : "it exports nothing";
    const which = spec.exportName === "default" ? "default export" : `export named "${spec.exportName}"`;
    throw fail(`it has no ${which} (${has})`);
  }
  try {
    return toApp(mod[spec.exportName]);
  } catch (err) {
    const which = spec.exportName === "default" ? "the default export" : `export "${spec.exportName}"`;
    throw fail(`${which} is not a fetch handler: ${describeError(err)}`, err);
  }
}
