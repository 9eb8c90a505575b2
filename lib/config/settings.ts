/**
 * The settings table. Every setting is one entry (in lib/config/settings/, one
 * file a section); the command-line parser, the environment reader, the
 * settings objects of serve() and `--help` are all generated from it.
 * @module
 */
import type { Address, TcpAddress } from "../address.ts";
import { CORE_SETTINGS } from "./settings/core.ts";
import { HTTP_SETTINGS } from "./settings/http.ts";
import { LOGGING_SETTINGS } from "./settings/logging.ts";
import { MECHANICS_SETTINGS } from "./settings/mechanics.ts";
import { OPERATIONS_SETTINGS } from "./settings/operations.ts";
import { SHIPPING_SETTINGS } from "./settings/shipping.ts";
import { SUPERVISION_SETTINGS } from "./settings/supervision.ts";

/** The log levels accepted by `--log-level`, Gunicorn's names. */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevelName = typeof LOG_LEVELS[number];
/** The formats accepted by `--log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormatName = typeof LOG_FORMATS[number];

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
  /** Seconds without a heartbeat before a worker is killed; 0 = off. */
  timeout: number;
  /** Requests after which a worker is recycled; 0 = never. */
  maxRequests: number;
  /** Random extra requests, 0..J, per worker. */
  maxRequestsJitter: number;
  /** RSS in MB past which a worker is recycled; 0 = no limit. */
  maxWorkerMemory: number;
  /** The master's pid file, or null. */
  pidfile: string | null;
  /** Lowest level written to the error log. */
  logLevel: LogLevelName;
  /** The error log file; `-` is stderr. */
  errorLogfile: string;
  /** Format of the error log. */
  logFormat: LogFormatName;
  /** The access log file (`-` is stdout), or null for none. */
  accessLogfile: string | null;
  /** Gunicorn-style access log format, or `json`. */
  accessLogFormat: string;
  /** Longest request line in bytes (414); 0 = the runtime's cap. */
  limitRequestLine: number;
  /** Most header fields (431); 0 = the runtime's cap. */
  limitRequestFields: number;
  /** Longest header field in bytes (431); 0 = the runtime's cap. */
  limitRequestFieldSize: number;
  /** Largest request body in bytes (413); 0 = no limit. */
  limitRequestBody: number;
  /** Seconds an idle keep-alive connection stays open; 0 = close after each response. */
  keepAlive: number;
  /** Seconds a client may take to send a request head (+1 s per minUploadRate bytes); 0 = off. */
  headerTimeout: number;
  /** Seconds a client may spend sending a request the app has (+1 s per minUploadRate bytes); 0 = off. */
  bodyTimeout: number;
  /** Bytes per second that earn a slow client one more second. */
  minUploadRate: number;
  /** Seconds a handler may take before it is answered 503; 0 = off. */
  requestTimeout: number;
  /** Most requests in flight per worker before 503; 0 = no limit. */
  maxConcurrency: number;
  /** IPs and CIDRs of trusted proxies, or `*`. */
  forwardedAllowIps: string[];
  /** The config module in force (an absolute path once loaded), or null. */
  config: string | null;
  /** Development mode: replace the workers when a file of the app changes. */
  reload: boolean;
  /** Load the settings and the app, then exit. */
  checkConfig: boolean;
  /** Print the resolved settings, then exit. */
  printConfig: boolean;
  /** Where the master serves /metrics and the status page, or null. */
  metricsBind: TcpAddress | null;
  /** The master's control socket, or null. */
  controlSocket: string | null;
  /** Environment variables set in every worker (`-e KEY=VALUE`). */
  env: Record<string, string>;
  /** The uid workers switch to once they have bound, or null to stay. */
  user: number | null;
  /** The gid workers switch to; null: the --user's own group, or stay. */
  group: number | null;
  /** The umask of the master and the workers, or null to keep the inherited one. */
  umask: number | null;
  /** Give workers every group --user belongs to, not only --group. */
  initgroups: boolean;
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
  /** More long flags for the same setting: Gunicorn's spelling where corral's differs. */
  readonly aliases?: readonly string[];
  /**
   * Gunicorn's name of the same setting (its config-file name), for the
   * table of docs/settings.md and for suggestions in a config file.
   */
  readonly gunicorn?: string;
  /** How it differs from Gunicorn's, where it does. */
  readonly gunicornNote?: string;
  readonly metavar: string;
  /** Repeatable on the command line; values accumulate into a list. */
  readonly multiple?: boolean;
  /** A flag without a value (`--check-config`); parse gets `["true"]`. */
  readonly boolean?: boolean;
  /** Only on the command line: not in a config file or `serve()` options. */
  readonly cliOnly?: boolean;
  /** `KEY=VALUE` values; a config file may give an object of them instead. */
  readonly keyValue?: boolean;
  /** Environment variable that supplies the value when no flag does. */
  readonly env?: string;
  readonly default: Settings[K];
  /** How `--help` and the docs show the default. */
  readonly defaultText: string;
  /** Validates one raw value (for `multiple`, the whole list). */
  readonly parse: (raw: string[], ctx: ParseContext) => Settings[K];
  readonly description: string;
}

/** Every setting, in the order `--help` lists them: one table, kept in sections. */
export const SETTINGS: readonly Setting[] = [
  ...CORE_SETTINGS,
  ...SUPERVISION_SETTINGS,
  ...LOGGING_SETTINGS,
  ...HTTP_SETTINGS,
  ...SHIPPING_SETTINGS,
  ...OPERATIONS_SETTINGS,
  ...MECHANICS_SETTINGS,
];

/**
 * The settings grouped by section, each section once, in the order of its
 * first setting in {@link SETTINGS} (a section spans several files).
 */
export function settingsBySection(): [string, Setting[]][] {
  const sections = new Map<string, Setting[]>();
  for (const s of SETTINGS) {
    const list = sections.get(s.section) ?? [];
    list.push(s);
    sections.set(s.section, list);
  }
  return [...sections];
}

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
