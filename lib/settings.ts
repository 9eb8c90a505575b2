/**
 * The settings table. Every setting is one entry; the command-line parser,
 * the environment reader and `--help` are all generated from it.
 * @module
 */
import { type Address, parseAddress } from "./address.ts";
import { UsageError } from "./errors.ts";

/** The log levels accepted by `--log-level`, Gunicorn's names. */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevelName = typeof LOG_LEVELS[number];

/** The resolved settings of a corral server. */
export interface Settings {
  /** Number of worker processes. */
  workers: number;
  /** Addresses every worker listens on. */
  bind: Address[];
  /** Folder the app module is resolved from (and the workers' cwd). */
  chdir: string;
  /** PEM certificate file: with keyfile, serve HTTPS. */
  certfile: string | null;
  /** PEM private key file. */
  keyfile: string | null;
  /** Seconds a stopping worker may take to finish in-flight requests. */
  gracefulTimeout: number;
  /** Lowest level written to the error log. */
  logLevel: LogLevelName;
}

/** What a validator may consult besides the raw value. */
export interface ParseContext {
  /** Where the value came from, for messages: `-w/--workers`, `$PORT`. */
  readonly source: string;
  readonly cpuCount: () => number;
  readonly home: string | undefined;
  readonly cwd: string;
}

/** One row of the table. */
export interface Setting<K extends keyof Settings = keyof Settings> {
  readonly name: K;
  readonly section: string;
  /** Short flag (`-w`), if any, then the long flag (`--workers`). */
  readonly flags: readonly [string] | readonly [string, string];
  readonly metavar: string;
  /** Repeatable on the command line; values accumulate into a list. */
  readonly multiple?: boolean;
  /** A flag without a value (`--check-config`); parse gets `["true"]`. */
  readonly boolean?: boolean;
  /** Only on the command line: not in a config file or `serve()` options. */
  readonly cliOnly?: boolean;
  /** Environment variable that supplies the value when no flag does. */
  readonly env?: string;
  readonly default: Settings[K];
  /** How `--help` and the docs show the default. */
  readonly defaultText: string;
  /** Validates one raw value (for `multiple`, the whole list). */
  readonly parse: (raw: string[], ctx: ParseContext) => Settings[K];
  readonly description: string;
}

function _bad(ctx: ParseContext, raw: string, why: string): UsageError {
  return new UsageError(`Invalid value for ${ctx.source}: "${raw}": ${why}`);
}

function _one(raw: string[]): string {
  return raw[raw.length - 1] ?? "";
}

function _positiveInt(raw: string, ctx: ParseContext, min: number): number {
  if (!/^\d+$/.test(raw.trim())) throw _bad(ctx, raw, "expected a whole number");
  const n = Number(raw);
  if (n < min) throw _bad(ctx, raw, `must be at least ${min}`);
  return n;
}

function _seconds(raw: string, ctx: ParseContext): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw _bad(ctx, raw, "expected a number of seconds (>= 0)");
  }
  return n;
}

function _path(raw: string, ctx: ParseContext): string {
  if (raw === "") throw _bad(ctx, raw, "expected a file path");
  if (raw === "~" || raw.startsWith("~/")) {
    if (!ctx.home) throw _bad(ctx, raw, "cannot expand ~: $HOME is not set");
    return ctx.home + raw.slice(1);
  }
  return raw;
}

function define<K extends keyof Settings>(s: Setting<K>): Setting<K> {
  return s;
}

/** Every setting, in the order `--help` lists them. */
export const SETTINGS: readonly Setting[] = [
  define({
    name: "workers",
    section: "Worker processes",
    flags: ["-w", "--workers"],
    metavar: "INT",
    env: "WEB_CONCURRENCY",
    default: 1,
    defaultText: "$WEB_CONCURRENCY, else 1",
    parse: (raw, ctx) => {
      const v = _one(raw);
      return v === "auto" ? ctx.cpuCount() : _positiveInt(v, ctx, 1);
    },
    description:
      "Number of worker processes, or `auto` for one per CPU core. Each binds every address with SO_REUSEPORT; the kernel spreads connections between them.",
  }),
  define({
    name: "bind",
    section: "Server socket",
    flags: ["-b", "--bind"],
    metavar: "ADDRESS",
    multiple: true,
    env: "PORT",
    default: [{ transport: "tcp", hostname: "127.0.0.1", port: 8000 }],
    defaultText: "127.0.0.1:8000, or 0.0.0.0:$PORT when $PORT is set",
    parse: (raw, ctx) => {
      if (ctx.source === "$PORT") {
        return [parseAddress(`0.0.0.0:${_one(raw)}`, ctx.source)];
      }
      return raw.map((v) => parseAddress(v, ctx.source));
    },
    description:
      "Address to listen on: HOST, HOST:PORT, [IPV6]:PORT or unix:PATH. Repeat the flag to listen on several.",
  }),
  define({
    name: "chdir",
    section: "Server mechanics",
    flags: ["--chdir"],
    metavar: "DIR",
    default: ".",
    defaultText: "the current folder",
    parse: (raw, ctx) => _path(_one(raw), ctx),
    description: "Change to this folder before loading the app; APP_MODULE is resolved from it.",
  }),
  define({
    name: "certfile",
    section: "TLS",
    flags: ["--certfile"],
    metavar: "FILE",
    default: null,
    defaultText: "none",
    parse: (raw, ctx) => _path(_one(raw), ctx),
    description: "PEM certificate (chain) file. With --keyfile, every TCP address serves HTTPS.",
  }),
  define({
    name: "keyfile",
    section: "TLS",
    flags: ["--keyfile"],
    metavar: "FILE",
    default: null,
    defaultText: "none",
    parse: (raw, ctx) => _path(_one(raw), ctx),
    description: "PEM private key file for --certfile.",
  }),
  define({
    name: "gracefulTimeout",
    section: "Worker processes",
    flags: ["--graceful-timeout"],
    metavar: "SECONDS",
    default: 30,
    defaultText: "30",
    parse: (raw, ctx) => _seconds(_one(raw), ctx),
    description:
      "On TERM, how long workers may take to finish in-flight requests before they are killed.",
  }),
  define({
    name: "logLevel",
    section: "Logging",
    flags: ["--log-level"],
    metavar: "LEVEL",
    default: "info",
    defaultText: "info",
    parse: (raw, ctx) => {
      const v = _one(raw).toLowerCase();
      const level = LOG_LEVELS.find((l) => l === v);
      if (!level) throw _bad(ctx, _one(raw), `expected one of ${LOG_LEVELS.join(", ")}`);
      return level;
    },
    description: "Lowest level written to the error log: debug, info, warning, error or critical.",
  }),
];

/** Long flag of a setting, e.g. `--workers`. */
export function longFlag(s: Setting): string {
  return s.flags[s.flags.length - 1] as string;
}

/** `-w/--workers` as messages name a flag. */
export function flagLabel(s: Setting): string {
  return s.flags.join("/");
}

/** The settings with every default applied. */
export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) out[s.name] = structuredClone(s.default);
  return out as unknown as Settings;
}
