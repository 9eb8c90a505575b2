/**
 * The error log, and the log files corral writes. Library files only call
 * {@link logger}; a worker's entry calls {@link setupLogging}, the master
 * lib/master/logging.ts, which hands the records to LogTape; USR1 calls
 * {@link reopenLogFiles}. In a worker, records go straight to the error
 * log: LogTape, an npm package, would start Deno's Node layer there (6 MiB
 * a worker; issue #17), and the lines are the same (tests/log.test.ts).
 * @module
 */
import type { LogLevel, LogRecord } from "./runtime/logtape.ts";
import { type Sink, sys, writeAllSync } from "./runtime/sys.ts";
import { BootError, describeError } from "./errors.ts";
import type { LogFormatName, LogLevelName } from "./config/settings.ts";

const _LEVELS: Record<LogLevelName, LogLevel> = {
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
  critical: "fatal",
};

const _LABELS: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

function _pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `2026-11-26 05:02:37 +0000`, Gunicorn's timestamp. */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const abs = Math.abs(off);
  return `${d.getFullYear()}-${_pad(d.getMonth() + 1)}-${_pad(d.getDate())} ` +
    `${_pad(d.getHours())}:${_pad(d.getMinutes())}:${_pad(d.getSeconds())} ` +
    `${sign}${_pad(Math.floor(abs / 60))}${_pad(abs % 60)}`;
}

function _value(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function _message(record: LogRecord): string {
  let out = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    out += i % 2 === 0 ? String(part) : _value(part);
  }
  return out;
}

/** One text line per record: `[time] [pid] [LEVEL] message`. */
export function formatRecord(record: LogRecord): string {
  let line = `[${formatTimestamp(record.timestamp)}] [${sys.pid}] [${_LABELS[record.level]}] ${
    _message(record)
  }`;
  const err = record.properties.error;
  if (err instanceof Error && err.stack) line += "\n" + err.stack;
  return line + "\n";
}

const _FIELD_NAMES: Record<LogLevel, string> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
  fatal: "critical",
};

function _jsonValue(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return typeof value === "bigint" ? String(value) : value;
}

/**
 * One JSON object per record: time, level (`--log-level`'s names), logger,
 * the process's pid and worker age (null in the master), the rendered
 * message, and the message's own values under `fields`.
 */
export function formatJsonRecord(record: LogRecord, worker: number | null = null): string {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) fields[key] = _jsonValue(value);
  const entry = {
    time: new Date(record.timestamp).toISOString(),
    level: _FIELD_NAMES[record.level],
    logger: record.category.join("."),
    pid: sys.pid,
    worker,
    message: _message(record),
    fields,
  };
  try {
    return JSON.stringify(entry) + "\n";
  } catch {
    return JSON.stringify({ ...entry, fields: {} }) + "\n";
  }
}

const _openFiles = new Set<LogFile>();
const _encoder = new TextEncoder();

function _openReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT") return "no such folder";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a folder";
  return describeError(err);
}

/**
 * Where log lines go: stdout or stderr (`-`), or a file opened for
 * appending. Files are reopened by {@link reopenLogFiles}, so that a
 * rotated log is let go of on USR1.
 */
export class LogFile {
  readonly path: string;
  readonly #flag: string;
  #sink: Sink;
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, flag: string, sink: Sink) {
    this.path = path;
    this.#flag = flag;
    this.#sink = sink;
  }

  /**
   * Opens `path` for appending; `-` is the standard stream `std`.
   * @throws {BootError} naming `flag` and the path when it cannot be opened.
   */
  static open(path: string, std: 1 | 2, flag: string): LogFile {
    if (path === "-") return new LogFile(path, flag, std === 1 ? sys.stdout : sys.stderr);
    const file = new LogFile(path, flag, LogFile.#openSink(path, flag));
    _openFiles.add(file);
    return file;
  }

  static #openSink(path: string, flag: string): Sink {
    try {
      return sys.openAppend(path);
    } catch (err) {
      throw new BootError(`Cannot open ${flag} "${path}": ${_openReason(err)}`, { cause: err });
    }
  }

  /** Writes now; an error (a closed stream, a full disk) is dropped. */
  writeSync(text: string): void {
    try {
      writeAllSync(this.#sink, text);
    } catch { /* nowhere left to tell */ }
  }

  /** Writes in the background, in order; resolves once written (or dropped). */
  write(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? _encoder.encode(text) : text;
    this.#queue = this.#queue.then(() => this.#writeAll(bytes));
    return this.#queue;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      for (let offset = 0; offset < bytes.length;) offset += await this.#sink.write(bytes.subarray(offset));
    } catch { /* dropped, as in writeSync */ }
  }

  /** Opens the path again; the old file is closed once its writes are done. */
  reopen(): void {
    if (this.path === "-") return;
    let sink: Sink;
    try {
      sink = LogFile.#openSink(this.path, this.#flag);
    } catch (err) {
      logger("log").error("{message}; still writing to the old file", { message: (err as Error).message });
      return;
    }
    const old = this.#sink;
    this.#sink = sink;
    this.#queue = this.#queue.then(() => old.close()).catch(() => {});
  }

  /** Waits for pending writes, then closes the file (never stdout or stderr). */
  async close(): Promise<void> {
    await this.#queue;
    if (this.path === "-" || !_openFiles.delete(this)) return;
    try {
      this.#sink.close();
    } catch { /* already closed */ }
  }
}

/** USR1: reopens every log file of this process (the error log and the access log). */
export function reopenLogFiles(): void {
  for (const file of _openFiles) file.reopen();
}

/** How {@link setupLogging} configures the error log; the Settings object fits. */
export interface LoggingOptions {
  readonly logLevel: LogLevelName;
  /** `-` (the default) is stderr. */
  readonly errorLogfile?: string;
  readonly logFormat?: LogFormatName;
  /** The worker's age, for the `worker` field of JSON lines; null in the master. */
  readonly worker?: number | null;
}

let _errorLog: LogFile | undefined;

const _ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warning: 3, error: 4, fatal: 5 };

/** What {@link setupLogging} set up: the least severe level logged, and where records go. */
let _lowest = _ORDER.info;
let _sink: ((record: LogRecord) => void) | null = null;

/**
 * Splits a message template into LogTape's shape: text, value, text...;
 * `{name}` is the property `name`, `{{` and `}}` are braces.
 */
export function parseTemplate(template: string, properties: Record<string, unknown>): unknown[] {
  const parts: unknown[] = [];
  let text = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if ((c === "{" || c === "}") && template[i + 1] === c) {
      text += c;
      i++;
    } else if (c === "{") {
      const close = template.indexOf("}", i + 1);
      if (close < 0) {
        text += template.slice(i);
        break;
      }
      parts.push(text, properties[template.slice(i + 1, close).trim()]);
      text = "";
      i = close;
    } else text += c;
  }
  parts.push(text);
  return parts;
}

/** Hands a record to the error log, as {@link setupLogging} configured it. */
function _direct(
  category: readonly string[],
  level: LogLevel,
  message: string,
  properties: Record<string, unknown>,
) {
  if (_sink === null || _ORDER[level] < _lowest) return;
  _sink({
    category,
    level,
    message: parseTemplate(message, properties),
    rawMessage: message,
    properties,
    timestamp: Date.now(),
  } as LogRecord);
}

/** Where {@link logger}'s records go: one category, one level, a template and its values. */
export type Emit = (
  category: readonly string[],
  level: LogLevel,
  message: string,
  properties: Record<string, unknown>,
) => void;

let _emit: Emit = _direct;

/** Routes every record to `emit` (the master's LogTape), or, with null, straight to the error log again. */
export function routeLogs(emit: Emit | null): void {
  _emit = emit ?? _direct;
}

/** The error log {@link setupLogging} set up: where records are written, and the least severe one logged. */
export interface ErrorLog {
  readonly sink: (record: LogRecord) => void;
  readonly lowestLevel: LogLevel;
}

/**
 * Configures the error log for this process: a level name alone keeps
 * text lines on stderr. Lines are written synchronously so that the last
 * ones before an exit are never lost. Returns it, for the master to hand
 * to LogTape (lib/master/logging.ts).
 *
 * @example
 * ```ts
 * setupLogging({ logLevel: "info", errorLogfile: "/var/log/corral.log", logFormat: "json" });
 * ```
 * @throws {BootError} when the error log file cannot be opened.
 */
export function setupLogging(options: LogLevelName | LoggingOptions): ErrorLog {
  const o: LoggingOptions = typeof options === "string" ? { logLevel: options } : options;
  const path = o.errorLogfile ?? "-";
  if (_errorLog?.path !== path) {
    const previous = _errorLog;
    _errorLog = LogFile.open(path, 2, "--error-logfile");
    void previous?.close();
  }
  const file = _errorLog;
  const worker = o.worker ?? null;
  const format = o.logFormat === "json" ? (r: LogRecord) => formatJsonRecord(r, worker) : formatRecord;
  const sink = _sink = (record: LogRecord) => file.writeSync(format(record));
  const lowestLevel = _LEVELS[o.logLevel];
  _lowest = _ORDER[lowestLevel];
  return { sink, lowestLevel };
}

/** What a part of corral logs with; LogTape's methods of the same names. */
export interface Logger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warning(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
  fatal(message: string, properties?: Record<string, unknown>): void;
}

const _loggers = new Map<string, Logger>();

/** The logger for one part of corral: `logger("arbiter")`. */
export function logger(name: string): Logger {
  let log = _loggers.get(name);
  if (log === undefined) {
    const category = ["corral", name] as const;
    const at = (level: LogLevel) => (message: string, properties: Record<string, unknown> = {}) =>
      _emit(category, level, message, properties);
    log = {
      debug: at("debug"),
      info: at("info"),
      warning: at("warning"),
      error: at("error"),
      fatal: at("fatal"),
    };
    _loggers.set(name, log);
  }
  return log;
}
