/**
 * Hostile bytes in every access log atom a client (or the app) controls:
 * one request, one line, and no quoted field a value can end.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AccessRecord, compileAccessFormat } from "../../../lib/worker/front/access_format.ts";
import { AccessLog } from "../../../lib/worker/front/access_log.ts";
import { asciiJson, escapeLogValue } from "../../../lib/worker/front/log_escape.ts";
import { LineBytes } from "../../../lib/worker/front/line_bytes.ts";

/**
 * CR, LF, NUL, `"`, `\`, DEL, bytes 0xC3 0xA9 0xFF (a client's UTF-8 `é`
 * and a stray byte, as the runtimes decode header bytes: one character a
 * byte), then what no byte string holds: U+2028, a lone surrogate, an emoji.
 */
const HOSTILE = 'a\r\nb\x00c"d\\e\x7f\u00c3\u00a9\u00ff\u2028' + String.fromCharCode(0xd800) +
  "\ud83d\ude00z";
/** HOSTILE with each character above U+00FF (a code point) as "?": what btoa takes. */
const HOSTILE_BYTES = Array.from(HOSTILE, (c) => c.length > 1 || c.charCodeAt(0) > 0xff ? "?" : c).join("");
const ESCAPED =
  'a\\x0D\\x0Ab\\x00c\\"d\\\\e\\x7F\\xC3\\xA9\\xFF\\xE2\\x80\\xA8\\xEF\\xBF\\xBD\\xF0\\x9F\\x98\\x80z';

/** Headers with any value: `new Headers()` refuses CR, LF and NUL, which a parser bug or a proxy could still pass. */
function headers(values: Record<string, string>): Headers {
  return { get: (name: string) => values[name.toLowerCase()] ?? null } as unknown as Headers;
}

function hostileRecord(overrides: Partial<AccessRecord> = {}): AccessRecord {
  const request = {
    method: HOSTILE,
    url: `http://h/${HOSTILE}?${HOSTILE}`,
    headers: headers({
      authorization: "Basic " + btoa(`${HOSTILE_BYTES}:pw`),
      referer: HOSTILE,
      "user-agent": HOSTILE,
      "x-h": HOSTILE,
    }),
  } as unknown as Request;
  const response = { status: 200, headers: headers({ "content-length": HOSTILE, "x-o": HOSTILE }) };
  return {
    request,
    info: { remoteAddr: { transport: "tcp", hostname: HOSTILE, port: 1 } },
    response: response as unknown as Response,
    ms: 1,
    time: 0,
    ...overrides,
  };
}

describe("access log escaping", () => {
  test("escapeLogValue: quote and backslash get a backslash, other bytes outside printable ASCII \\xHH", () => {
    assert.equal(escapeLogValue(HOSTILE), ESCAPED);
    assert.equal(escapeLogValue("\t\x1b[31m"), "\\x09\\x1B[31m");
    assert.equal(
      escapeLogValue(String.fromCharCode(0xd83d)),
      "\\xEF\\xBF\\xBD",
      "a lone high surrogate at the end",
    );
  });

  test("a clean value is returned as it is (the same string)", () => {
    const clean = "Mozilla/5.0 (X11; Linux x86_64) ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}";
    assert.equal(escapeLogValue(clean), clean);
    assert.equal(escapeLogValue(""), "");
  });

  for (const atom of ["h", "m", "U", "q", "f", "a", "B", "b", "{x-h}i", "{x-o}o"]) {
    test(`%(${atom})s: CR, LF, NUL, quote, backslash and bytes >= 0x80 come out escaped, on one line`, () => {
      const line = compileAccessFormat(`[%(${atom})s]`).line(hostileRecord());
      assert.equal(line, `[${atom === "U" ? "/" : ""}${ESCAPED}]`);
    });
  }

  test("%(u)s: the Basic user's decoded bytes are escaped, on one line", () => {
    const line = compileAccessFormat("[%(u)s]").line(hostileRecord());
    // btoa took the value's characters up to U+00FF as bytes; the rest became "?".
    assert.equal(line, "[" + escapeLogValue(HOSTILE_BYTES) + "]");
    assert.equal(line, '[a\\x0D\\x0Ab\\x00c\\"d\\\\e\\x7F\\xC3\\xA9\\xFF???z]');
  });

  test("%(r)s: the method and the target are escaped, the protocol is ours", () => {
    const line = compileAccessFormat('"%(r)s"').line(hostileRecord());
    assert.equal(line, `"${ESCAPED} /${ESCAPED}?${ESCAPED} HTTP/1.1"`);
  });

  test("the issue's request: a user with a forged line stays in one line of the default format", () => {
    const forged = 'alice\n6.6.6.6 - admin [x] "DELETE /users HTTP/1.1" 204\nx';
    const request = new Request("http://h/", {
      headers: { authorization: "Basic " + btoa(`${forged}:pw`), "user-agent": 'ua "quoted" \\' },
    });
    const line = compileAccessFormat('%(h)s %(l)s %(u)s "%(r)s" %(s)s "%(a)s"').line({
      request,
      info: { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } },
      response: new Response("x"),
      ms: 0,
      time: 0,
    });
    assert.equal(
      line,
      '127.0.0.1 - alice\\x0A6.6.6.6 - admin [x] \\"DELETE /users HTTP/1.1\\" 204\\x0Ax "GET / HTTP/1.1" 200 ' +
        '"ua \\"quoted\\" \\\\"',
    );
  });

  test("the fields the gate's walk read are escaped too", () => {
    const line = compileAccessFormat("%(u)s|%(f)s|%(a)s").line(
      hostileRecord({ authorization: "Basic " + btoa('"\n:x'), referer: "\r", userAgent: "\x00" }),
    );
    assert.equal(line, '\\"\\x0A|\\x0D|\\x00');
  });

  test("json: one line of ASCII in the file, that parses back to the values as they were", async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-escape-"));
    const path = join(dir, "access.jsonl");
    const log = AccessLog.open(path, "json");
    try {
      log.log(hostileRecord());
      log.log(hostileRecord());
      await log.close();
      const text = readFileSync(path, "latin1");
      const lines = text.split("\n");
      assert.equal(lines.length, 3, "two lines and the final newline");
      assert.equal(lines[2], "");
      for (const line of lines.slice(0, 2)) {
        // ASCII without a control character but DEL, which JSON leaves as it is and no reader breaks a line at.
        assert.match(line, /^[\x20-\x7f]+$/);
        const entry = JSON.parse(line);
        // JSON.stringify writes a lone surrogate as \ud800, which parses back to it.
        for (const field of ["method", "referer", "user_agent", "remote_addr"]) {
          assert.equal(entry[field], HOSTILE);
        }
        assert.equal(entry.user, HOSTILE_BYTES);
        assert.equal(entry.path, `/${HOSTILE}`);
        assert.equal(entry.query, HOSTILE);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a line is the bytes the file gets: the format's own text as UTF-8, what clients send escaped", () => {
    const format = compileAccessFormat("é %(m)s – %% \u2028 ✓ %(a)s");
    assert.equal(format.line(hostileRecord()), `é ${ESCAPED} – % \u2028 ✓ ${ESCAPED}`);
    const out = new LineBytes(8); // grows as it goes
    format.write(hostileRecord(), out);
    assert.deepEqual(out.take(), new TextEncoder().encode(`é ${ESCAPED} – % \u2028 ✓ ${ESCAPED}`));
    const json = compileAccessFormat("json");
    json.write(hostileRecord(), out);
    assert.deepEqual(out.take(), new TextEncoder().encode(asciiJson(json.line(hostileRecord()))));
  });

  test("asciiJson: NEL, U+2028, U+2029 and all else above U+007F become \\u escapes", () => {
    assert.equal(asciiJson('"\u0085\u2028\u2029\u00e9"'), '"\\u0085\\u2028\\u2029\\u00e9"');
    assert.equal(JSON.parse(asciiJson(JSON.stringify("\ud83d\ude00"))), "\ud83d\ude00");
    const plain = JSON.stringify({ a: "b" });
    assert.equal(asciiJson(plain), plain);
  });
});
