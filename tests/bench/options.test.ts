/** The bench's flags: what `--copies` takes and refuses. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseOptions } from "../../scripts/bench/_options.ts";
import { UsageError } from "../../scripts/bench/_cli.ts";

describe("bench options", () => {
  test("--copies: one server a row by default, N with --interleave", () => {
    const plain = parseOptions([]);
    assert.ok(plain !== "help");
    assert.equal(plain.copies, 1);
    const copies = parseOptions(["--interleave", "--copies", "3"]);
    assert.ok(copies !== "help");
    assert.equal(copies.copies, 3);
  });

  test("--copies without --interleave, or below 1, is refused by name", () => {
    assert.throws(() => parseOptions(["--copies", "2"]), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /--copies needs --interleave/);
      return true;
    });
    assert.throws(() => parseOptions(["--interleave", "--copies", "0"]), /Invalid value for --copies: "0"/);
  });
});
