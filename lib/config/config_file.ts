/**
 * The config module (`-c/--config`, by default ./corral.config.ts) and the
 * chain of every settings source, lowest first: defaults, environment
 * (`PORT`, `WEB_CONCURRENCY`), the config file, `CORRAL_CMD_ARGS`, the
 * command line. As in Gunicorn, a later source overrides an earlier one,
 * and everything goes through the one settings table.
 *
 * ```ts
 * // corral.config.ts
 * export default {
 *   workers: 4,
 *   maxRequests: 1000,
 *   whenReady: () => console.log("serving"),
 * };
 * ```
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, isAbsolute, relative, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  appFromPositionals,
  type AppSpec,
  type CommandLine,
  type Environment,
  readCommandLine,
  SettingsBuilder,
  splitShellWords,
} from "./config.ts";
import { describeError, describeImportFailure, UsageError } from "../errors.ts";
import { HOOK_NAMES, type Hooks, pickHooks } from "./hooks.ts";
import type { Settings } from "./settings.ts";

/** The files looked for in the current folder when no `-c/--config` is given, in order. */
export const DEFAULT_CONFIG_FILES: readonly string[] = [
  "corral.config.ts",
  "corral.config.js",
  "corral.config.json",
];

/** The environment variable that holds extra command-line options. */
export const CMD_ARGS_ENV = "CORRAL_CMD_ARGS";

/** A loaded config module, split into settings and hooks. */
export interface ConfigFile {
  /** Absolute path, or `builtin:NAME` for a config compiled into the binary. */
  readonly path: string;
  /** How messages name it: relative to the current folder when inside it. */
  readonly label: string;
  /** Every key that is not a hook, still to be validated by the table. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly hooks: Hooks;
}

/** A module compiled into the binary by `scripts/compile.ts --runtime deno`. */
export interface BuiltinModule {
  /** The file name it was built from, for messages. */
  readonly name: string;
  readonly exports: Readonly<Record<string, unknown>>;
}

const _BUILTIN = "builtin:";
let _builtinConfig: BuiltinModule | null = null;
let _loads = 0;

/**
 * Makes a compiled-in config module the default config (master and
 * workers). A compiled Deno binary cannot import a `.ts` file at run time.
 */
export function registerBuiltinConfig(module: BuiltinModule): void {
  _builtinConfig = module;
}

function _label(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * The config file to load: `given` (relative to `cwd`), or the first of
 * {@link DEFAULT_CONFIG_FILES} that exists, or none.
 * @throws {UsageError} when `given` does not exist.
 */
export function findConfigFile(given: string | null, cwd: string): string | null {
  if (given !== null) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new UsageError(`Config file "${given}" not found (looked at ${path})`);
    return path;
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

async function _importConfig(path: string, label: string, fresh: boolean): Promise<Record<string, unknown>> {
  let url = pathToFileURL(path).href;
  if (fresh) {
    // A HUP reads the file again: Deno keys its module cache by URL, Bun by
    // path, so bust both.
    try {
      delete createRequire(import.meta.url).cache[path];
    } catch { /* no CommonJS cache here (a module run from a URL) */ }
    url += `?reload=${++_loads}`;
  }
  try {
    return await import(url);
  } catch (err) {
    throw new UsageError(`Cannot load config file "${label}": ${describeImportFailure(err)}`);
  }
}

function _split(object: unknown, path: string, label: string): ConfigFile {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    const got = object === null ? "null" : Array.isArray(object) ? "an array" : typeof object;
    throw new UsageError(
      `Config file "${label}" must export an object of settings as its default export, got ${got}`,
    );
  }
  const record = object as Record<string, unknown>;
  let hooks: Hooks;
  try {
    hooks = pickHooks(record, `"${label}"`);
  } catch (err) {
    throw new UsageError(describeError(err));
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (!(HOOK_NAMES as readonly string[]).includes(key)) settings[key] = value;
  }
  return { path, label, settings, hooks };
}

/**
 * Loads a config file: a `.json` object, or a `.ts`/`.js` module whose
 * default export is an object of settings and hooks. `fresh` reads it again
 * even if it was imported before (HUP).
 *
 * @example
 * ```ts
 * const config = await loadConfigFile("/srv/app/corral.config.ts");
 * config.settings.workers; // 4
 * ```
 * @throws {UsageError} naming the file: unreadable, not an object, a hook that is not a function.
 */
export async function loadConfigFile(
  path: string,
  options: { cwd?: string; fresh?: boolean } = {},
): Promise<ConfigFile> {
  if (path.startsWith(_BUILTIN) && _builtinConfig) {
    return _split(_builtinConfig.exports.default, path, _builtinConfig.name);
  }
  const label = _label(path, options.cwd ?? process.cwd());
  const ext = extname(path).toLowerCase();
  if (ext === ".json") {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new UsageError(`Cannot read config file "${label}": ${describeError(err)}`);
    }
    try {
      return _split(JSON.parse(text), path, label);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`Cannot read config file "${label}": invalid JSON: ${describeError(err)}`);
    }
  }
  if (![".ts", ".js", ".mjs", ".mts", ".tsx", ".jsx"].includes(ext)) {
    throw new UsageError(`Config file "${label}" must be a .ts, .js or .json file`);
  }
  const mod = await _importConfig(path, label, options.fresh ?? false);
  if (!("default" in mod)) {
    const names = Object.keys(mod);
    throw new UsageError(
      `Config file "${label}" has no default export (write \`export default { workers: 2 }\`)` +
        (names.length ? `; it exports: ${names.join(", ")}` : ""),
    );
  }
  return _split(mod.default, path, label);
}

/**
 * The hooks of the config file the settings name, for a worker: the master
 * sends the resolved settings, whose `config` is the file it loaded.
 *
 * @example
 * ```ts
 * const hooks = await loadConfigHooks(boot.settings); // in the worker, after the boot message
 * ```
 */
export async function loadConfigHooks(settings: Readonly<Pick<Settings, "config">>): Promise<Hooks> {
  if (settings.config === null) return {};
  return (await loadConfigFile(settings.config)).hooks;
}

/** What a full command line asks for, with every source applied. */
export type Launch =
  | { readonly action: "help" }
  | { readonly action: "version" }
  | {
    readonly action: "serve";
    readonly settings: Settings;
    /** Null only for `--print-config` without APP_MODULE. */
    readonly app: AppSpec | null;
    /** The config file's hooks. */
    readonly hooks: Hooks;
  };

/** Options of {@link loadInvocation}. */
export interface LoadOptions {
  /** The app compiled into this binary (`app.ts`), which then takes no APP_MODULE. */
  readonly builtinApp?: AppSpec;
  /** Read the config file again (HUP). */
  readonly fresh?: boolean;
}

function _envCommandLine(text: string | undefined): CommandLine {
  const words = splitShellWords(text ?? "", `$${CMD_ARGS_ENV}`);
  let cmd: CommandLine;
  try {
    cmd = readCommandLine(words);
  } catch (err) {
    throw new UsageError(`In $${CMD_ARGS_ENV}: ${describeError(err)}`);
  }
  if (cmd.positionals.length > 0) {
    throw new UsageError(`$${CMD_ARGS_ENV} takes options only, got "${cmd.positionals[0]}"`);
  }
  return cmd;
}

async function _configFor(given: string | null, cwd: string, fresh: boolean): Promise<ConfigFile | null> {
  if (given === null && _builtinConfig) {
    return _split(_builtinConfig.exports.default, _BUILTIN + _builtinConfig.name, _builtinConfig.name);
  }
  const path = findConfigFile(given, cwd);
  return path === null ? null : await loadConfigFile(path, { cwd, fresh });
}

function _app(positionals: readonly string[], settings: Settings, options: LoadOptions): AppSpec | null {
  if (options.builtinApp) {
    if (positionals.length > 0) {
      throw new UsageError(
        `This binary serves the app built into it (${options.builtinApp.module}); ` +
          `it takes no APP_MODULE, got "${positionals.join(" ")}"`,
      );
    }
    return options.builtinApp;
  }
  if (positionals.length === 0 && settings.printConfig) return null;
  return appFromPositionals(positionals);
}

/**
 * Resolves a command line (without the program name) with every source:
 * defaults, environment, config file, `CORRAL_CMD_ARGS`, command line.
 *
 * @example
 * ```ts
 * const launch = await loadInvocation(["-c", "prod.json", "app.ts"], {
 *   env: (name) => process.env[name], cpuCount: () => 4, cwd: process.cwd(),
 * });
 * ```
 * @throws {UsageError} naming the flag, variable, or key and file at fault.
 */
export async function loadInvocation(
  args: readonly string[],
  environment: Environment,
  options: LoadOptions = {},
): Promise<Launch> {
  const cmd = readCommandLine(args);
  if (cmd.help) return { action: "help" };
  if (cmd.version) return { action: "version" };
  const fromEnv = _envCommandLine(environment.env(CMD_ARGS_ENV));
  const origin = `$${CMD_ARGS_ENV}`;
  // -c/--config may come from either command line; read it first.
  const early = new SettingsBuilder(environment).applyCommandLine(fromEnv, origin).applyCommandLine(cmd);
  const file = await _configFor(early.settings.config, environment.cwd, options.fresh ?? false);
  const given = (name: keyof Settings) =>
    file?.settings[name] !== undefined || fromEnv.values.has(name) || cmd.values.has(name);
  const builder = new SettingsBuilder(environment).applyEnv(environment.env, given);
  if (file) builder.applyObject(file.settings as Record<string, unknown>, `"${file.label}"`, HOOK_NAMES);
  builder.applyCommandLine(fromEnv, origin).applyCommandLine(cmd);
  builder.settings.config = file?.path ?? null;
  const settings = builder.finish();
  return {
    action: "serve",
    settings,
    app: _app(cmd.positionals, settings, options),
    hooks: file?.hooks ?? {},
  };
}
