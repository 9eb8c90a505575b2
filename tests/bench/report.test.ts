import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { judge, pairedRatios, verdict } from "../../scripts/bench/_report.ts";
import type { Sample } from "../../scripts/bench/_runs.ts";
import { medianInterval } from "../../scripts/bench/_table.ts";

function sample(cpuUsPerRequest: number, requests = 1000): Sample {
  return { cpuUsPerRequest, requests, seconds: 1 } as Sample;
}

describe("the bench's verdicts", () => {
  test("the median's 95 % interval narrows with more rounds, at the ranks the tables give", () => {
    const ranks = (n: number) => Array.from({ length: n }, (_, i) => n - i); // n..1, unsorted on purpose
    // Few rounds can tell little: from the lowest to the highest.
    assert.deepEqual(medianInterval(ranks(3)), [1, 3]);
    assert.deepEqual(medianInterval(ranks(10)), [1, 10]);
    assert.deepEqual(medianInterval(ranks(30)), [9, 22]);
    // The published table's ranks for n = 100: the 40th and the 61st.
    assert.deepEqual(medianInterval(ranks(100)), [40, 61]);
    assert.deepEqual(medianInterval([7]), [7, 7]);
    assert.ok(medianInterval([]).every(Number.isNaN));
  });

  test("ratios are paired round by round", () => {
    const a = [sample(10), sample(20)];
    const b = [sample(20), sample(20)];
    assert.deepEqual(pairedRatios(a, b, (s) => 1 / s.cpuUsPerRequest), [2, 1]);
  });

  test("a target inside the median's interval is within the noise, whichever side the median is", () => {
    assert.equal(judge(0.96, [0.97, 0.99], 0.95), "met");
    assert.equal(judge(0.96, [0.93, 0.99], 0.95), "met, within this run's noise");
    assert.equal(judge(0.93, [0.90, 0.96], 0.95), "MISSED, within this run's noise");
    assert.equal(judge(0.90, [0.88, 0.92], 0.95), "MISSED");
  });

  test("a verdict line shows the median per CPU-second, its interval and the judgement", () => {
    // Per CPU-second ratios 1/0.9, 1/1.0, 1/1.1: median 1.0; three rounds' interval is 1/1.1 to 1/0.9.
    const a = [sample(9), sample(10), sample(11)];
    const b = [sample(10), sample(10), sample(10)];
    const line = verdict("x ÷ y", a, b, 0.99);
    assert.match(
      line,
      /^x ÷ y: 1\.000× in requests per CPU-second \(95 % interval of the median 0\.909–1\.111\)/,
    );
    assert.match(line, /\(target ≥ 0\.99×\): met, within this run's noise$/);
    assert.equal(verdict("x ÷ y", [], b), "x ÷ y: not measured");
  });
});
