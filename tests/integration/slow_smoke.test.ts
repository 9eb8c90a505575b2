/**
 * scripts/slow/main.ts measures what it must: against the real CLI with 1 s timeouts, under the runtime
 * running the tests, every attacker is reported closed, with its 408, and the normal clients are served.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runScript, RUNTIME } from "../_helpers/corral.ts";

test(
  `scripts/slow/main.ts reports 50 slow heads and 5 slow bodies closed with 408 (${RUNTIME})`,
  { timeout: 60_000, skip: process.platform === "linux" ? false : "taskset and TCP_INFO are Linux's" },
  async () => {
    const args = [
      "--runtime",
      RUNTIME,
      "--defence",
      "on",
      "--timeouts",
      "1",
      "--heads",
      "50",
      "--bodies",
      "5",
    ];
    args.push("--attack", "5", "--window", "2", "--baseline", "1", "--rate", "50");
    const { code, stdout, stderr } = await runScript("scripts/slow/main.ts", args);
    assert.equal(code, 0, stderr + stdout);
    const row = stdout.split("\n").find((l) => l.startsWith(`| ${RUNTIME} | on |`));
    assert.ok(row, stdout);
    const cells = row.split("|").map((c) => c.trim());
    assert.equal(cells[7], "0", `no normal request failed: ${row}`);
    assert.match(cells[9] ?? "", /^50\/50, at .* \(50 × 408\)$/, row);
    assert.match(cells[10] ?? "", /^5\/5, at .* \(5 × 408\)$/, row);
  },
);
