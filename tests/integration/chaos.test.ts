/**
 * Chaos under load, as an operator in a hurry would make it: random HUPs,
 * TTINs, TTOUs, USR2 upgrades and SIGKILLed workers at random gaps of
 * 50 ms to 1.5 s, with --max-requests recycling all along, for 20 s,
 * under keep-alive and new-connection clients that count every request
 * and retry none (scripts/stress/main.ts --scenario chaos). No request may
 * fail but those on the connections a SIGKILLed worker held. The seed is
 * printed; `--seed N` replays the sequence.
 */
import process from "node:process";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runScript, RUNTIME, ZERO_LOSS_SKIP } from "../_helpers/corral.ts";

const SECONDS = 20;

describe(`chaos (${RUNTIME})`, () => {
  test(`${SECONDS} s of random signals and SIGKILLs under load: only the killed workers' connections fail`, {
    timeout: 150_000,
    skip: ZERO_LOSS_SKIP,
  }, async () => {
    const seed = Number(process.env.CORRAL_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const args = [
      "--runtime",
      RUNTIME,
      "--scenario",
      "chaos",
      "--migrate-req",
      "1",
      "--seconds",
      String(SECONDS),
    ];
    args.push("--seed", String(seed), "--rate", "400", "--clients", "8", "--verbose");
    const { code, stdout, stderr } = await runScript("scripts/stress/main.ts", args);
    const rows = stdout.split("\n").filter((l) => l.startsWith("| chaos"));
    const replay = `replay with CORRAL_CHAOS_SEED=${seed}`;
    assert.equal(code, 0, `${replay}\n${stdout}\n${stderr.split("\n").slice(-80).join("\n")}`);
    assert.equal(rows.length, 2, stdout);
    for (const row of rows) assert.match(row, new RegExp(`seed ${seed}:`), replay);
  });
});
