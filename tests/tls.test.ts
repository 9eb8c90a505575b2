import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BootError } from "../lib/errors.ts";
import { readTls } from "../lib/tls.ts";

const CERT = fileURLToPath(import.meta.resolve("./fixtures/tls/cert.pem"));
const KEY = fileURLToPath(import.meta.resolve("./fixtures/tls/key.pem"));

/** Reads a pair that must be refused; returns the error. */
function tlsError(certfile: string, keyfile: string): BootError {
  try {
    readTls({ certfile, keyfile });
  } catch (err) {
    assert.ok(err instanceof BootError, `expected a BootError, got ${err}`);
    assert.equal(err.exitCode, 3);
    return err;
  }
  assert.fail(`expected readTls to refuse ${certfile} and ${keyfile}`);
}

describe("readTls", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "corral-tls-"));
    writeFileSync(join(dir, "notes.txt"), "this is not a certificate\n");
    writeFileSync(
      join(dir, "ec.key"),
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("returns null for plain HTTP when no files are set", () => {
    assert.equal(readTls({ certfile: null, keyfile: null }), null);
  });

  test("reads a valid certificate and key pair as PEM text", () => {
    assert.deepEqual(readTls({ certfile: CERT, keyfile: KEY }), {
      cert: readFileSync(CERT, "utf8"),
      key: readFileSync(KEY, "utf8"),
    });
  });

  test("takes any kind of PEM private key", () => {
    assert.match(readTls({ certfile: CERT, keyfile: join(dir, "ec.key") })?.key ?? "", /EC PRIVATE KEY/);
  });

  test("a missing certfile fails naming --certfile and the path", () => {
    const missing = join(dir, "missing.pem");
    assert.equal(tlsError(missing, KEY).message, `Cannot read --certfile "${missing}": no such file`);
  });

  test("a missing keyfile fails naming --keyfile and the path", () => {
    const missing = join(dir, "missing.key");
    assert.equal(tlsError(CERT, missing).message, `Cannot read --keyfile "${missing}": no such file`);
  });

  test("a folder fails saying it is a folder", () => {
    assert.equal(tlsError(dir, KEY).message, `Cannot read --certfile "${dir}": it is a folder`);
    assert.equal(tlsError(CERT, dir).message, `Cannot read --keyfile "${dir}": it is a folder`);
  });

  test("a file without PEM fails naming the flag and the path", () => {
    const notes = join(dir, "notes.txt");
    assert.equal(
      tlsError(notes, KEY).message,
      `Invalid --certfile "${notes}": no PEM certificate found in it`,
    );
    assert.equal(
      tlsError(CERT, notes).message,
      `Invalid --keyfile "${notes}": no PEM private key found in it`,
    );
  });

  test("a certificate and key given the wrong way round are refused", () => {
    assert.match(tlsError(KEY, CERT).message, /^Invalid --certfile ".*key\.pem": no PEM certificate/);
    assert.match(tlsError(CERT, CERT).message, /^Invalid --keyfile ".*cert\.pem": no PEM private key/);
  });
});
