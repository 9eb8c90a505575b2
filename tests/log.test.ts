import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { configureSync, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import { formatRecord, formatTimestamp, logger } from "../lib/log.ts";

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

function record(level: LogLevel, message: unknown[], properties: Record<string, unknown> = {}): LogRecord {
  return {
    category: ["corral", "test"],
    level,
    message,
    rawMessage: message.filter((_, i) => i % 2 === 0).join("{}"),
    timestamp: Date.UTC(2026, 10, 26, 5, 2, 37, 421),
    properties,
  };
}

/** Reads a formatted timestamp back into milliseconds since the epoch. */
function parseTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text);
  assert.ok(m, `"${text}" is not YYYY-MM-DD HH:MM:SS +ZZZZ`);
  const [, y, mo, d, h, mi, s, sign, oh, om] = m;
  return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${sign}${oh}:${om}`);
}

describe("formatTimestamp", () => {
  test("has Gunicorn's shape: YYYY-MM-DD HH:MM:SS +ZZZZ", () => {
    for (const ms of [0, Date.UTC(2026, 0, 2, 3, 4, 5), Date.UTC(2026, 6, 15, 23, 59, 59, 999), Date.now()]) {
      assert.match(formatTimestamp(ms), TIMESTAMP);
    }
  });

  test("names the same instant, to the second, in local time with its offset", () => {
    for (
      const ms of [Date.UTC(2026, 0, 2, 3, 4, 5, 678), Date.UTC(2026, 6, 15, 23, 59, 59, 999), Date.now()]
    ) {
      assert.equal(parseTimestamp(formatTimestamp(ms)), Math.floor(ms / 1000) * 1000, formatTimestamp(ms));
    }
  });
});

describe("formatRecord", () => {
  test("writes [time] [pid] [LEVEL] message and one newline", () => {
    const r = record("info", ["Listening at: http://127.0.0.1:8000"]);
    assert.equal(
      formatRecord(r),
      `[${formatTimestamp(r.timestamp)}] [${process.pid}] [INFO] Listening at: http://127.0.0.1:8000\n`,
    );
  });

  test("shows each level as Gunicorn does, critical as CRITICAL", () => {
    const labels: [LogLevel, string][] = [
      ["debug", "DEBUG"],
      ["info", "INFO"],
      ["warning", "WARNING"],
      ["error", "ERROR"],
      ["fatal", "CRITICAL"],
    ];
    for (const [level, label] of labels) {
      assert.match(
        formatRecord(record(level, ["x"])),
        new RegExp(`^\\[[^\\]]+\\] \\[\\d+\\] \\[${label}\\] x\\n$`),
      );
    }
  });

  test("puts values into the message: strings as they are, others as JSON", () => {
    const line = formatRecord(record("info", ["Worker ", 42, " got ", "SIGTERM", " with ", { code: 0 }, ""]));
    assert.ok(line.endsWith('[INFO] Worker 42 got SIGTERM with {"code":0}\n'), line);
  });

  test(
    "shows an Error value in the message by its message, not as {}",
    {},
    () => {
      const line = formatRecord(record("error", ["Worker failed: ", new Error("boom"), ""]));
      assert.ok(line.endsWith("[ERROR] Worker failed: boom\n"), line);
    },
  );

  test("adds the stack of an error property after the line", () => {
    const error = new Error("boom");
    const text = formatRecord(record("error", ["Worker failed"], { error }));
    const [first, ...rest] = text.split("\n");
    assert.match(first ?? "", /\[ERROR\] Worker failed$/);
    assert.equal(rest.join("\n"), `${error.stack}\n`);
  });

  test("formats records logged through LogTape, critical included", () => {
    const lines: string[] = [];
    configureSync({
      reset: true,
      sinks: { collect: (r: LogRecord) => lines.push(formatRecord(r)) },
      loggers: [
        { category: ["corral"], lowestLevel: "debug", sinks: ["collect"] },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      ],
    });
    try {
      logger("arbiter").info("Booting worker with pid: {pid}", { pid: 4242 });
      logger("arbiter").fatal("Shutting down: {reason}", { reason: "App failed to load" });
    } finally {
      resetSync();
    }
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /^\[[^\]]+\] \[\d+\] \[INFO\] Booting worker with pid: 4242\n$/);
    assert.match(lines[1] ?? "", /^\[[^\]]+\] \[\d+\] \[CRITICAL\] Shutting down: App failed to load\n$/);
  });
});
