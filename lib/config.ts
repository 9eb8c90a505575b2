/**
 * Turns the command line and the environment into {@link Settings}, using
 * the settings table. Precedence, lowest first: defaults, environment,
 * command line.
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import {
  defaultSettings,
  flagLabel,
  longFlag,
  type ParseContext,
  SETTINGS,
  type Settings,
} from "./settings.ts";

/** The app to serve: a module and the export to take from it. */
export interface AppSpec {
  /** File path (relative to --chdir) or URL. */
  readonly module: string;
  /** Named export, or `default`. */
  readonly exportName: string;
}

/** What the command line asks for. */
export type Invocation =
  | { readonly action: "help" }
  | { readonly action: "version" }
  | { readonly action: "serve"; readonly settings: Settings; readonly app: AppSpec };

/** Facts about the process the parser needs. */
export interface Environment {
  readonly env: (name: string) => string | undefined;
  readonly cpuCount: () => number;
  readonly cwd: string;
}

const _ACTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function _parseOptions() {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> =
    { ..._ACTIONS };
  for (const s of SETTINGS) {
    const opt: { type: "string"; short?: string; multiple?: boolean } = { type: "string" };
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
  if (m && !/^[A-Za-z][\w+.-]*$/.test(m[1] as string)) {
    return { module: m[1] as string, exportName: m[2] as string };
  }
  return { module: value, exportName: "default" };
}

/**
 * Parses a command line (without the program name).
 *
 * @example
 * ```ts
 * const inv = parseCommandLine(["-w", "2", "app.ts"], {
 *   env: () => undefined, cpuCount: () => 2, cwd: "/srv",
 * });
 * ```
 * @throws {UsageError} naming the flag or variable at fault.
 */
export function parseCommandLine(args: string[], environment: Environment): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args, options: _parseOptions(), allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };

  const settings = defaultSettings();
  const base = { cpuCount: environment.cpuCount, home: environment.env("HOME"), cwd: environment.cwd };
  const target = settings as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    if (!s.env) continue;
    const raw = environment.env(s.env);
    if (raw === undefined || raw === "") continue;
    target[s.name] = s.parse([raw], { ...base, source: `$${s.env}` });
  }
  for (const s of SETTINGS) {
    const raw = values[longFlag(s).slice(2)];
    if (raw === undefined) continue;
    const list = Array.isArray(raw) ? raw.map(String) : [String(raw)];
    const ctx: ParseContext = { ...base, source: flagLabel(s) };
    target[s.name] = s.parse(list, ctx);
  }
  if ((settings.certfile === null) !== (settings.keyfile === null)) {
    throw new UsageError(
      settings.certfile === null ? "--keyfile needs --certfile" : "--certfile needs --keyfile",
    );
  }
  if (positionals.length === 0) throw new UsageError("Missing APP_MODULE (for example: app.ts)");
  if (positionals.length > 1) {
    throw new UsageError(`Expected one APP_MODULE, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  return { action: "serve", settings, app: parseAppSpec(positionals[0] as string) };
}

/** The `--help` text, generated from the settings table. */
export function helpText(program = "corral"): string {
  const lines = [
    `Usage: ${program} [OPTIONS] APP_MODULE[:NAME]`,
    "",
    "A pre-fork HTTP server for fetch handlers on Deno and Bun.",
    "APP_MODULE is a file or URL whose default export (or export NAME) is",
    "`{ fetch(request, info) }` or a function `(request, info) => Response`.",
    "",
  ];
  let section = "";
  for (const s of SETTINGS) {
    if (s.section !== section) {
      section = s.section;
      lines.push(`${section}:`);
    }
    const flags = s.flags.length === 2 ? `${s.flags[0]}, ${s.flags[1]}` : `    ${s.flags[0]}`;
    lines.push(`  ${flags} ${s.metavar}`);
    lines.push(`      ${s.description.replaceAll("`", "")}`);
    lines.push(`      Default: ${s.defaultText}${s.env ? `  (env: ${s.env})` : ""}`);
  }
  lines.push("Other:", "  -v, --version  Print the version and exit.", "  -h, --help     Print this help and exit.", "");
  lines.push("Signals: TERM stops gracefully, INT and QUIT stop at once.");
  return lines.join("\n");
}
