/**
 * The error log, on LogTape, and the log files corral writes. Library
 * files only call {@link logger}; cli.ts (or a worker's entry) calls
 * {@link setupLogging}; USR1 calls {@link reopenLogFiles}.
 * @module
 */
import { closeSync, openSync, write, writeSync } from "node:fs";
import process from "node:process";
import { configureSync, getLogger, type Logger, type LogLevel, type LogRecord } from "./runtime/logtape.ts";
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
  let line = `[${formatTimestamp(record.timestamp)}] [${process.pid}] [${_LABELS[record.level]}] ${
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
    pid: process.pid,
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
  #fd: number;
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, flag: string, fd: number) {
    this.path = path;
    this.#flag = flag;
    this.#fd = fd;
  }

  /**
   * Opens `path` for appending; `-` is the standard stream `std`.
   * @throws {BootError} naming `flag` and the path when it cannot be opened.
   */
  static open(path: string, std: 1 | 2, flag: string): LogFile {
    if (path === "-") return new LogFile(path, flag, std);
    const file = new LogFile(path, flag, LogFile.#openFd(path, flag));
    _openFiles.add(file);
    return file;
  }

  static #openFd(path: string, flag: string): number {
    try {
      return openSync(path, "a");
    } catch (err) {
      throw new BootError(`Cannot open ${flag} "${path}": ${_openReason(err)}`, { cause: err });
    }
  }

  /** Writes now; an error (a closed stream, a full disk) is dropped. */
  writeSync(text: string): void {
    try {
      writeSync(this.#fd, text);
    } catch { /* nowhere left to tell */ }
  }

  /** Writes in the background, in order; resolves once written (or dropped). */
  write(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? _encoder.encode(text) : text;
    this.#queue = this.#queue.then(() => this.#writeAll(bytes));
    return this.#queue;
  }

  #writeAll(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      const step = (offset: number) => {
        write(this.#fd, bytes, offset, bytes.length - offset, null, (err, n) => {
          if (err || offset + n >= bytes.length) return resolve();
          step(offset + n);
        });
      };
      step(0);
    });
  }

  /** Opens the path again; the old descriptor is closed once its writes are done. */
  reopen(): void {
    if (this.path === "-") return;
    let fd: number;
    try {
      fd = LogFile.#openFd(this.path, this.#flag);
    } catch (err) {
      logger("log").error("{message}; still writing to the old file", { message: (err as Error).message });
      return;
    }
    const old = this.#fd;
    this.#fd = fd;
    this.#queue = this.#queue.then(() => closeSync(old)).catch(() => {});
  }

  /** Waits for pending writes, then closes the file (never stdout or stderr). */
  async close(): Promise<void> {
    await this.#queue;
    if (this.path === "-" || !_openFiles.delete(this)) return;
    try {
      closeSync(this.#fd);
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

/**
 * Configures the error log for this process: a level name alone keeps
 * text lines on stderr. Lines are written synchronously so that the last
 * ones before an exit are never lost.
 *
 * @example
 * ```ts
 * setupLogging({ logLevel: "info", errorLogfile: "/var/log/corral.log", logFormat: "json" });
 * ```
 * @throws {BootError} when the error log file cannot be opened.
 */
export function setupLogging(options: LogLevelName | LoggingOptions): void {
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
  const sink = (record: LogRecord) => file.writeSync(format(record));
  configureSync({
    reset: true,
    sinks: { errorLog: sink },
    loggers: [
      { category: ["corral"], lowestLevel: _LEVELS[o.logLevel], sinks: ["errorLog"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["errorLog"] },
    ],
  });
}

/** The logger for one part of corral: `logger("arbiter")`. */
export function logger(name: string): Logger {
  return getLogger(["corral", name]);
}
