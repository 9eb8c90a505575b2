/** The access log's buffer of line bytes, and what the access log does with a line that fails. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LineBytes } from "../../../lib/worker/front/line_bytes.ts";
import { record, withLogFile } from "./_helpers.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("line bytes", () => {
  test("values are copied as they are when clean, escaped when not; absent ones are -", () => {
    const out = new LineBytes(4);
    out.value("GET");
    out.ascii(" ");
    out.value('/a"b\\c\n');
    out.ascii(" ");
    out.field(null);
    out.ascii(" ");
    out.field("é");
    out.newline();
    assert.equal(text(out.take()), 'GET /a\\"b\\\\c\\x0A - \\xE9\n');
  });

  test("ascii writes corral's own text; what is not ASCII goes through toAscii if given, else as UTF-8", () => {
    const out = new LineBytes(1);
    out.ascii("200 ");
    out.ascii('"é"', (t) => t.replace("é", "\\u00e9"));
    out.ascii(" é");
    assert.equal(text(out.take()), '200 "\\u00e9" é');
  });

  test("a line longer than the buffer grows it; take hands the bytes over and starts afresh", () => {
    const out = new LineBytes(16);
    out.value("a".repeat(100));
    out.raw(new Uint8Array([98, 99]));
    const first = out.take();
    assert.equal(first.length, 102);
    assert.equal(out.length, 0);
    out.value("x");
    assert.equal(text(first), "a".repeat(100) + "bc", "the bytes handed over are not written over");
    assert.equal(text(out.take()), "x");
  });

  test("a line whose format throws midway leaves nothing of it in the file; the next line is whole", async () => {
    await withLogFile("%(s)s %(a)s", async (log, path) => {
      const bad = record(new Request("http://h/"), new Response("x"));
      Object.defineProperty(bad, "userAgent", {
        get() {
          throw new Error("a getter that throws");
        },
      });
      log.log(bad);
      log.log(record(new Request("http://h/", { headers: { "user-agent": "ok" } }), new Response("x")));
      await log.flush();
      assert.equal(readFileSync(path, "utf8"), "200 ok\n");
    });
  });
});
