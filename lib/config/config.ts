/**
 * Turns the command line, the environment and settings objects (a config
 * file, `serve()` options) into {@link Settings}, all through the settings
 * table. Precedence, lowest first: defaults, environment, settings object,
 * `CORRAL_CMD_ARGS`, command line (lib/config/config_file.ts chains them).
 * @module
 */
import { parseArgs } from "node:util";
import { normalizeArgs, suggestKey } from "./flags.ts";
import type { Address } from "../address.ts";
import { UsageError } from "../errors.ts";
import {
  defaultSettings,
  flagLabel,
  longFlag,
  type ParseContext,
  type Setting,
  SETTINGS,
  type Settings,
  settingsBySection,
} from "./settings.ts";

export { suggestKey };

/** The app to serve: a module and the export to take from it. */
export interface AppSpec {
  /** File path (relative to --chdir) or URL. */
  readonly module: string;
  /** Named export, or `default`. */
  readonly exportName: string;
}

/** Facts about the process the parser needs. */
export interface Environment {
  readonly env: (name: string) => string | undefined;
  readonly cpuCount: () => number;
  readonly cwd: string;
}

/** A parsed command line, before it is merged with other sources. */
export interface CommandLine {
  readonly help: boolean;
  readonly version: boolean;
  /** Raw values by setting name, as given on the command line. */
  readonly values: ReadonlyMap<keyof Settings, string[]>;
  readonly positionals: readonly string[];
}

type _Option = { type: "string" | "boolean"; short?: string; multiple?: boolean };

/** The options of node:util's parseArgs: help, version and each setting's long flag. */
function _parseOptions(): Record<string, _Option> {
  const options: Record<string, _Option> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  };
  for (const s of SETTINGS) {
    const opt: _Option = { type: s.boolean ? "boolean" : "string" };
    if (s.flags.length === 2) opt.short = s.flags[0].slice(1);
    if (s.multiple) opt.multiple = true;
    options[longFlag(s).slice(2)] = opt;
  }
  return options;
}

/**
 * Splits `APP_MODULE[:NAME]`. The name must be an identifier, so URLs with
 * ports (`http://host:8080/app.ts`) and Windows drives stay whole.
 */
export function parseAppSpec(value: string): AppSpec {
  const m = /^(.+):([A-Za-z_$][\w$]*)$/.exec(value);
  // `npm:pkg` is a scheme and a name, not MODULE:NAME; `app.ts:app` is.
  if (m && !/^[A-Za-z][A-Za-z\d+-]*$/.test(m[1] as string)) {
    return { module: m[1] as string, exportName: m[2] as string };
  }
  return { module: value, exportName: "default" };
}

/**
 * Reads a command line (without the program name) into raw values.
 * @throws {UsageError} for unknown flags and missing values.
 */
export function readCommandLine(args: readonly string[]): CommandLine {
  let parsed;
  const normalized = normalizeArgs(args);
  try {
    parsed = parseArgs({ args: normalized, options: _parseOptions(), allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const values = new Map<keyof Settings, string[]>();
  for (const s of SETTINGS) {
    const raw = (parsed.values as Record<string, unknown>)[longFlag(s).slice(2)];
    if (raw === undefined || raw === false) continue;
    values.set(s.name, Array.isArray(raw) ? raw.map(String) : [String(raw)]);
  }
  return {
    help: parsed.values.help === true,
    version: parsed.values.version === true,
    values,
    positionals: parsed.positionals,
  };
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function _rawValues(value: unknown): string[] | null {
  if (value === undefined) return null;
  if (value === null) return ["null"];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "object") return null;
  return [String(value)];
}

/** Builds settings from layered sources; each step validates through the table. */
export class SettingsBuilder {
  readonly settings: Settings = defaultSettings();
  readonly #base: Omit<ParseContext, "source">;

  constructor(environment: Environment) {
    this.#base = { cpuCount: environment.cpuCount, home: environment.env("HOME"), cwd: environment.cwd };
  }

  #set(s: Setting, raw: string[], source: string): void {
    const target = this.settings as unknown as Record<string, unknown>;
    target[s.name] = s.parse(raw, { ...this.#base, source });
  }

  /**
   * Applies the environment variables of the table (`PORT`, `WEB_CONCURRENCY`),
   * except for settings that `overridden` says a later source sets anyway.
   */
  applyEnv(
    env: (name: string) => string | undefined,
    overridden: (name: keyof Settings) => boolean = () => false,
  ): this {
    for (const s of SETTINGS) {
      if (overridden(s.name)) continue;
      const raw = s.env ? env(s.env) : undefined;
      if (raw !== undefined && raw !== "") this.#set(s, [raw], `$${s.env}`);
    }
    return this;
  }

  /**
   * Applies an object of settings in camelCase (`maxRequests`), as a config
   * file or `serve()` gives them. `where` names the source in messages.
   * @throws {UsageError} for an unknown key (with a suggestion) or a bad value.
   */
  applyObject(object: Record<string, unknown>, where: string, ignore: readonly string[] = []): this {
    const byName = new Map(SETTINGS.filter((s) => !s.cliOnly).map((s) => [s.name as string, s]));
    for (const [key, value] of Object.entries(object)) {
      if (ignore.includes(key)) continue;
      const s = byName.get(key);
      const cliOnly = SETTINGS.find((c) => c.cliOnly && c.name === key);
      if (cliOnly) {
        throw new UsageError(`"${key}" in ${where}: ${longFlag(cliOnly)} is for the command line only`);
      }
      if (!s) {
        // Gunicorn's config-file name of a setting is the likeliest slip of a Gunicorn user.
        const close = SETTINGS.find((g) => g.gunicorn === key && !g.cliOnly)?.name ??
          suggestKey(key, [...byName.keys(), ...ignore]);
        throw new UsageError(
          `Unknown setting "${key}" in ${where}${close ? ` (did you mean ${close}?)` : ""}`,
        );
      }
      const raw = s.keyValue && _isRecord(value)
        ? Object.entries(value).map(([k, v]) => `${k}=${String(v)}`)
        : _rawValues(value);
      if (raw === null) {
        if (value === undefined) continue;
        throw new UsageError(`Invalid value for "${key}" in ${where}: expected a string, number or list`);
      }
      this.#set(s, raw, `"${key}" in ${where}`);
    }
    return this;
  }

  /**
   * Applies the raw values of a command line; `origin` names where it came
   * from when that is not the real command line (`$CORRAL_CMD_ARGS`).
   */
  applyCommandLine(cmd: CommandLine, origin?: string): this {
    for (const s of SETTINGS) {
      const raw = cmd.values.get(s.name);
      if (raw) this.#set(s, raw, origin ? `${flagLabel(s)} in ${origin}` : flagLabel(s));
    }
    return this;
  }

  /**
   * Checks what no single setting can check alone.
   * @throws {UsageError}
   */
  finish(): Settings {
    const s = this.settings;
    if ((s.certfile === null) !== (s.keyfile === null)) {
      throw new UsageError(s.certfile === null ? "--keyfile needs --certfile" : "--certfile needs --keyfile");
    }
    if (s.initgroups && s.user === null) throw new UsageError("--initgroups needs -u/--user");
    return s;
  }
}

/** What the command line asks for. */
export type Invocation =
  | { readonly action: "help" }
  | { readonly action: "version" }
  | { readonly action: "serve"; readonly settings: Settings; readonly app: AppSpec };

/**
 * Parses a command line (without the program name) with the environment.
 *
 * @example
 * ```ts
 * const inv = parseCommandLine(["-w", "2", "app.ts"], {
 *   env: () => undefined, cpuCount: () => 2, cwd: "/srv",
 * });
 * ```
 * @throws {UsageError} naming the flag or variable at fault.
 */
export function parseCommandLine(args: readonly string[], environment: Environment): Invocation {
  const cmd = readCommandLine(args);
  if (cmd.help) return { action: "help" };
  if (cmd.version) return { action: "version" };
  const settings = new SettingsBuilder(environment)
    .applyEnv(environment.env, (name) => cmd.values.has(name))
    .applyCommandLine(cmd)
    .finish();
  return { action: "serve", settings, app: appFromPositionals(cmd.positionals) };
}

/**
 * The APP_MODULE argument.
 * @throws {UsageError} when there is none or more than one.
 */
export function appFromPositionals(positionals: readonly string[]): AppSpec {
  if (positionals.length === 0) throw new UsageError("Missing APP_MODULE (for example: app.ts)");
  if (positionals.length > 1) {
    throw new UsageError(`Expected one APP_MODULE, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  return parseAppSpec(positionals[0] as string);
}

/**
 * Splits a string into arguments as a POSIX shell would, without running
 * anything: blanks separate, quotes group, a backslash escapes. For
 * `CORRAL_CMD_ARGS`.
 *
 * @example
 * ```ts
 * splitShellWords(`-w 2 --chdir "/srv/my app"`); // ["-w", "2", "--chdir", "/srv/my app"]
 * ```
 * @throws {UsageError} for an unterminated quote or a trailing backslash.
 */
export function splitShellWords(text: string, where = "$CORRAL_CMD_ARGS"): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  const fail = (why: string) => new UsageError(`Invalid value for ${where}: ${JSON.stringify(text)}: ${why}`);
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw fail("unterminated single quote");
      word = (word ?? "") + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      word ??= "";
      for (i++;; i++) {
        if (i >= text.length) throw fail("unterminated double quote");
        const d = text[i] as string;
        if (d === '"') break;
        // Inside double quotes a backslash escapes only these, as in sh.
        if (d === "\\" && text[i + 1] === "\n") i++;
        else if (d === "\\" && /[$`"\\]/.test(text[i + 1] ?? "")) word += text[++i];
        else word += d;
      }
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw fail("trailing backslash");
      if (text[i + 1] !== "\n") word = (word ?? "") + text[i + 1];
      i += 2;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** One value as a config file would write it: addresses as `-b` takes them. */
function _configValue(value: unknown): string {
  const address = (a: Address) =>
    a.transport === "unix"
      ? `unix:${a.path}`
      : a.hostname.includes(":")
      ? `[${a.hostname}]:${a.port}`
      : `${a.hostname}:${a.port}`;
  if (Array.isArray(value) && value.every((v) => typeof v === "object" && v !== null && "transport" in v)) {
    return JSON.stringify(value.map((v) => address(v as Address)));
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * The resolved settings for `--print-config`: one `name = value` a line,
 * in the table's order, named as a config file names them.
 *
 * @example
 * ```ts
 * formatSettings(defaultSettings()); // "workers = 1\nbind = [\"127.0.0.1:8000\"]\n..."
 * ```
 */
export function formatSettings(settings: Readonly<Settings>): string {
  const values = settings as unknown as Record<string, unknown>;
  return SETTINGS.map((s) => `${s.name} = ${_configValue(values[s.name])}`).join("\n") + "\n";
}

/** The `--help` text, generated from the settings table. */
export function helpText(program = "corral"): string {
  const lines = [
    `Usage: ${program} [OPTIONS] APP_MODULE[:NAME]`,
    "",
    "A pre-fork HTTP server for fetch handlers on Deno and Bun.",
    "APP_MODULE is a file or URL whose default export (or export NAME) is",
    "`{ fetch(request, info) }` or a function `(request, info) => Response`.",
    "Settings come from, lowest first: defaults, the environment, the config",
    "file (-c, or ./corral.config.ts), $CORRAL_CMD_ARGS, the command line.",
    "",
  ];
  for (const [section, settings] of settingsBySection()) {
    lines.push(`${section}:`);
    for (const s of settings) {
      const flags = s.flags.length === 2 ? `${s.flags[0]}, ${s.flags[1]}` : `    ${s.flags[0]}`;
      lines.push(`  ${flags}${s.boolean ? "" : ` ${s.metavar}`}`);
      lines.push(`      ${s.description.replaceAll("`", "")}`);
      const aliases = s.aliases?.length ? `  (also ${s.aliases.join(", ")}, as Gunicorn spells it)` : "";
      lines.push(`      Default: ${s.defaultText}${s.env ? `  (env: ${s.env})` : ""}${aliases}`);
    }
  }
  lines.push(
    "Other:",
    "  -v, --version  Print the version and exit.",
    "  -h, --help     Print this help and exit.",
    "",
    "Commands:",
    `  ${program} ctl --socket PATH status|reload|scale N|stop`,
    "      Talk to a running master over its --control-socket (corral ctl --help).",
    "",
  );
  lines.push("Signals: TERM stops gracefully, INT and QUIT stop at once, HUP reloads, USR2 upgrades.");
  return lines.join("\n");
}
