import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatAddress, parseAddress } from "../lib/address.ts";
import { UsageError } from "../lib/errors.ts";

describe("parseAddress", () => {
  test("takes HOST:PORT, [IPV6]:PORT, HOST and unix:PATH", () => {
    assert.deepEqual(parseAddress("127.0.0.1:8080"), { transport: "tcp", hostname: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseAddress("[::1]:9000"), { transport: "tcp", hostname: "::1", port: 9000 });
    assert.deepEqual(parseAddress("localhost"), { transport: "tcp", hostname: "localhost", port: 8000 });
    assert.deepEqual(parseAddress(":81"), { transport: "tcp", hostname: "0.0.0.0", port: 81 });
    assert.deepEqual(parseAddress("unix:/tmp/a.sock"), { transport: "unix", path: "/tmp/a.sock" });
  });
  test("rejects a port out of range, naming the flag and the value", () => {
    assert.throws(
      () => parseAddress("127.0.0.1:99999"),
      (e: unknown) =>
        e instanceof UsageError && /-b\/--bind: "127.0.0.1:99999"/.test(e.message) && e.exitCode === 2,
    );
  });
  test("rejects unbracketed IPv6 and empty unix paths", () => {
    assert.throws(() => parseAddress("::1:80"), UsageError);
    assert.throws(() => parseAddress("unix:"), UsageError);
    assert.throws(() => parseAddress("host:abc"), UsageError);
  });
  test("formats addresses as the log shows them", () => {
    assert.equal(formatAddress({ transport: "tcp", hostname: "::1", port: 80 }, true), "https://[::1]:80");
    assert.equal(formatAddress({ transport: "unix", path: "/x" }), "unix:/x");
  });
});
