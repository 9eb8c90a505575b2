import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureSync, getLogger, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import { formatRecord, formatTimestamp, logger, parseTemplate, routeLogs, setupLogging } from "../lib/log.ts";
import { setupMasterLogging } from "../lib/master/logging.ts";

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
    routeLogs((category, level, message, properties) => getLogger([...category])[level](message, properties));
    try {
      logger("arbiter").info("Booting worker with pid: {pid}", { pid: 4242 });
      logger("arbiter").fatal("Shutting down: {reason}", { reason: "App failed to load" });
    } finally {
      routeLogs(null);
      resetSync();
    }
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /^\[[^\]]+\] \[\d+\] \[INFO\] Booting worker with pid: 4242\n$/);
    assert.match(lines[1] ?? "", /^\[[^\]]+\] \[\d+\] \[CRITICAL\] Shutting down: App failed to load\n$/);
  });
});

describe("a worker's error log, without LogTape", () => {
  test("splits a template as LogTape does: text, value, text; doubled braces are braces", () => {
    assert.deepEqual(parseTemplate("a {x} b {y}", { x: 1, y: "two" }), ["a ", 1, " b ", "two", ""]);
    assert.deepEqual(parseTemplate("{{x}} {x}", { x: 3 }), ["{x} ", 3, ""]);
    assert.deepEqual(parseTemplate("no value {missing}", {}), ["no value ", undefined, ""]);
    assert.deepEqual(parseTemplate("unclosed {x", { x: 1 }), ["unclosed {x"]);
  });

  test("writes the lines the master writes through LogTape, in both formats, at each level", () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-log-"));
    const error = new Error("the cause");
    const write = () => {
      logger("arbiter").info("Booting worker with pid: {pid}", { pid: 4242 });
      logger("arbiter").fatal("Shutting down: {reason}", { reason: "App failed to load" });
      logger("worker").debug("Not shown at info: {n}", { n: 1 });
      logger("worker").warning("{list} and {{braces}} and {missing}", { list: [1, "a"] });
      logger("http").error("Error handling request {path}", { path: "/x", error });
    };
    const lines = (path: string) =>
      readFileSync(path, "utf8").replace(/^\[[^\]]+\] /gm, "[time] ").replace(/"time":"[^"]+"/g, '"time":""');
    try {
      for (const format of ["text", "json"] as const) {
        const worker = join(dir, `worker.${format}`);
        const master = join(dir, `master.${format}`);
        setupLogging({ logLevel: "info", errorLogfile: worker, logFormat: format });
        write();
        setupMasterLogging({ logLevel: "info", errorLogfile: master, logFormat: format });
        write();
        routeLogs(null);
        setupLogging({ logLevel: "info" });
        const expected = lines(master);
        assert.equal(lines(worker), expected, format);
        assert.equal(
          expected.split("\n").filter((l) => l.startsWith("[time]") || l.startsWith("{")).length,
          4,
        );
        assert.doesNotMatch(expected, /Not shown/);
        assert.match(expected, /Error: the cause/);
      }
    } finally {
      routeLogs(null);
      resetSync();
      setupLogging("info");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
