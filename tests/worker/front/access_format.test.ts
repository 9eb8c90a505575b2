/** Access log formats: Gunicorn's atoms, called directly with `new Request(...)`. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  basicUser,
  clfTime,
  compileAccessFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
} from "../../../lib/worker/front/access_format.ts";
import { record } from "./_helpers.ts";

describe("access log formats", () => {
  const request = new Request("http://example.com/a/b?x=1&y=2", {
    method: "POST",
    headers: {
      referer: "http://ref.example/",
      "user-agent": "test-agent/1.0",
      authorization: "Basic " + btoa("alice:secret"),
      "x-request-id": "r-42",
    },
  });
  const response = new Response("twelve bytes", {
    status: 201,
    headers: { "content-length": "12", "x-trace": "t-7" },
  });

  test("the default format is Gunicorn's, with its atoms filled in", () => {
    const line = compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT).line(record(request, response));
    const t = clfTime(Date.UTC(2026, 10, 26, 5, 2, 37));
    assert.equal(
      line,
      `127.0.0.1 - alice ${t} "POST /a/b?x=1&y=2 HTTP/1.1" 201 12 "http://ref.example/" "test-agent/1.0"`,
    );
  });

  test("every atom: m U q H s B b f a T M D L p l u, headers in and out", () => {
    const format = "%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|%(T)s|%(M)s|%(D)s|%(L)s|%(p)s|" +
      "%(l)s|%(u)s|%({X-Request-Id}i)s|%({x-trace}o)s|%({missing}i)s|100%%";
    const line = compileAccessFormat(format).line(record(request, response, 2345.6789));
    assert.equal(
      line,
      `POST|/a/b|x=1&y=2|HTTP/1.1|201|12|12|http://ref.example/|test-agent/1.0|2|2345|2345679|2.345679|<${process.pid}>|` +
        "-|alice|r-42|t-7|-|100%",
    );
  });

  test("t is [day/Mon/year:H:M:S zone]; unknown lengths, referers and unix peers are -", () => {
    assert.match(clfTime(Date.now()), /^\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]$/);
    const bare = new Request("http://h/");
    const line = compileAccessFormat("%(h)s %(b)s %(f)s %(a)s %(u)s %(q)s.").line(
      record(bare, new Response("x"), 1, { transport: "unix", path: "" }),
    );
    assert.equal(line, "- - - - - .");
  });

  test("json: one object with the request's fields", () => {
    const entry = JSON.parse(compileAccessFormat("json").line(record(request, response, 1.25)));
    assert.deepEqual({ ...entry, time: "T" }, {
      time: "T",
      remote_addr: "127.0.0.1",
      user: "alice",
      method: "POST",
      path: "/a/b",
      query: "x=1&y=2",
      protocol: "HTTP/1.1",
      status: 201,
      bytes: 12,
      duration_ms: 1.25,
      referer: "http://ref.example/",
      user_agent: "test-agent/1.0",
      pid: process.pid,
    });
    assert.equal(entry.time, "2026-11-26T05:02:37.000Z");
  });

  test("literals with quotes, backslashes and line breaks come out as written", () => {
    const format = `"q" \\ \${x} \u2028 %(s)s '%({x-trace}o)s'`;
    const line = compileAccessFormat(format).line(record(request, response));
    assert.equal(line, `"q" \\ \${x} \u2028 201 't-7'`);
  });

  test("fields the gate's walk already read are used as they are, not read again", () => {
    const line = compileAccessFormat("%(u)s|%(f)s|%(a)s").line({
      ...record(request, response),
      authorization: null,
      referer: "from-scan",
      userAgent: "scan-agent",
    });
    assert.equal(line, "-|from-scan|scan-agent");
  });

  test("an unknown atom is refused at compile time, naming it", () => {
    assert.throws(() => compileAccessFormat("%(h)s %(zz)s"), /unknown atom %\(zz\)s/);
    for (const name of ["constructor", "toString", "__proto__"]) {
      assert.throws(() => compileAccessFormat(`%(${name})s`), TypeError, name);
    }
  });

  test("only formats that show a duration ask for the request to be timed", () => {
    assert.equal(compileAccessFormat(DEFAULT_ACCESS_LOG_FORMAT).timed, false);
    assert.equal(compileAccessFormat("%(s)s %(M)s").timed, true);
    assert.equal(compileAccessFormat("json").timed, true);
  });

  test("basic auth: the user name, or nothing for other schemes and garbage", () => {
    assert.equal(basicUser("Basic " + btoa("bob:pw:with:colons")), "bob");
    assert.equal(basicUser("Bearer abc"), null);
    assert.equal(basicUser("Basic !!!"), null);
    assert.equal(basicUser(null), null);
  });
});
