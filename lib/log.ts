/**
 * The error log, on LogTape. Library files only call {@link logger};
 * cli.ts (or a worker's entry) calls {@link setupLogging} once.
 * @module
 */
import { writeSync } from "node:fs";
import process from "node:process";
import { configureSync, getLogger, type Logger, type LogLevel, type LogRecord } from "@logtape/logtape";
import type { LogLevelName } from "./settings.ts";

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

/** Writes synchronously so the last lines before an exit are never lost. */
function _stderrSink(record: LogRecord): void {
  const text = formatRecord(record);
  try {
    writeSync(2, text);
  } catch { /* stderr closed: nothing left to tell */ }
}

/** Configures the error log for this process. */
export function setupLogging(level: LogLevelName): void {
  configureSync({
    reset: true,
    sinks: { stderr: _stderrSink },
    loggers: [
      { category: ["corral"], lowestLevel: _LEVELS[level], sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The logger for one part of corral: `logger("arbiter")`. */
export function logger(name: string): Logger {
  return getLogger(["corral", name]);
}
