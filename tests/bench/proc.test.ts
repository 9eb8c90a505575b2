/** The bench's CPU reading (scripts/bench/_proc.ts), on this process and on a spawned one. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { clockTicks, cpuMark, cpuSecondsBetween } from "../../scripts/bench/_proc.ts";

const mark = (ticks: number, threads: [number, number][]) => ({ ticks, threads: new Map(threads) });

describe("the bench's CPU time", () => {
  test("between two marks: the threads' nanoseconds, a new thread whole, an ended one sends it to the ticks", () => {
    const before = mark(100, [[1, 5e9], [2, 1e9]]);
    assert.equal(cpuSecondsBetween(before, mark(150, [[1, 5.2e9], [2, 1.3e9]]), 100), 0.5);
    assert.equal(cpuSecondsBetween(before, mark(150, [[1, 5.2e9], [2, 1.3e9], [3, 0.25e9]]), 100), 0.75);
    // Thread 2 ended: its time left with it, so the process's ticks tell.
    assert.equal(cpuSecondsBetween(before, mark(160, [[1, 5.2e9]]), 100), 0.6);
    // A process not seen before: all it used.
    assert.equal(cpuSecondsBetween(undefined, mark(42, [[7, 1e9]]), 100), 0.42);
  });

  test("a busy process's nanoseconds agree with its ticks, to the tick", async () => {
    const child = spawn(process.execPath, ["-e", "const end = Date.now() + 400; while (Date.now() < end);"], {
      stdio: "ignore",
    });
    const hz = await clockTicks();
    const start = cpuMark(child.pid as number);
    await new Promise<void>((resolve) => setTimeout(resolve, 250));
    const end = cpuMark(child.pid as number);
    await new Promise((resolve) => child.on("exit", resolve));
    assert.ok(end.threads.size > 0, "its threads were read");
    const fine = cpuSecondsBetween(start, end, hz);
    const coarse = (end.ticks - start.ticks) / hz;
    assert.ok(fine > 0.05, `it ran ${fine} s`);
    assert.ok(Math.abs(fine - coarse) <= 2 / hz + 0.01, `${fine} s against ${coarse} s in ticks`);
  });
});
