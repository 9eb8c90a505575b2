import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Heartbeat } from "../../lib/ipc.ts";
import {
  hungWorkers,
  planWorkers,
  stuckBooting,
  supersede,
  type WorkerRecord,
} from "../../lib/master/pool.ts";

let nextAge = 1;
function worker(fields: Partial<WorkerRecord> = {}): WorkerRecord {
  const age = nextAge++;
  return {
    pid: 1000 + age,
    child: { pid: 1000 + age, exited: new Promise(() => {}), send() {}, kill() {} },
    age,
    generation: 1,
    spawnedAt: 0,
    state: "serving",
    replacedFor: null,
    retiredAt: 0,
    bootFailed: false,
    exited: false,
    lastSeen: 0,
    heartbeat: null,
    watchdogFile: null,
    ...fields,
  };
}

function beat(fields: Partial<Heartbeat>): Heartbeat {
  return {
    type: "heartbeat",
    pid: 1,
    loopLagMs: 0,
    requests: 0,
    inFlight: [],
    overflow: 0,
    rss: 0,
    statusClasses: [0, 0, 0, 0, 0],
    histogram: [],
    durationSeconds: 0,
    bytes: 0,
    heapUsed: 0,
    ...fields,
  };
}

describe("planWorkers", () => {
  test("spawns what the current generation misses", () => {
    assert.deepEqual(planWorkers([worker()], 3, 1), { spawn: 2, replace: [], stop: [] });
  });

  test("TTOU: a serving extra worker is replaced and stopped only while enough others serve", () => {
    const [old, young] = [worker(), worker()];
    const plan = planWorkers([old, young], 1, 1);
    assert.deepEqual(plan.replace, [old]);
    assert.deepEqual(plan.stop, [old]);
  });

  test("an extra worker that does not serve yet goes first, the serving one stays", () => {
    const [serving, booting] = [worker(), worker({ state: "booting" })];
    const plan = planWorkers([serving, booting], 1, 1);
    assert.deepEqual(plan.stop, [booting]);
    assert.deepEqual(plan.replace, []);
  });

  test("rolling: outgoing workers stop one per replacement that serves, the youngest last", () => {
    const old = [worker({ state: "outgoing" }), worker({ state: "outgoing" })];
    const fresh = [worker({ generation: 2 }), worker({ generation: 2, state: "booting" })];
    const plan = planWorkers([...old, ...fresh], 2, 2);
    assert.equal(plan.spawn, 0);
    assert.deepEqual(
      plan.stop,
      [old[0]],
      "one new serves: the oldest old one stops, the other keeps serving",
    );
    const booting = [
      worker({ generation: 2, state: "booting" }),
      worker({ generation: 2, state: "booting" }),
    ];
    assert.deepEqual(
      planWorkers([...old, ...booting], 2, 2).stop,
      [],
      "no new one serves: every old one serves on",
    );
  });

  test("workers stopping, exited, or of an older generation do not count toward the target", () => {
    assert.equal(planWorkers([worker({ state: "retiring" })], 1, 1).spawn, 1);
    assert.equal(planWorkers([worker({ exited: true })], 1, 1).spawn, 1);
    assert.equal(planWorkers([worker({ state: "outgoing" })], 1, 2).spawn, 1);
  });
});

describe("supersede (HUP)", () => {
  test("two HUPs in a row: the serving generation keeps serving, the pending one's booting workers stop", () => {
    const serving = [worker(), worker()];
    const first = supersede(serving);
    for (const w of first.replace) w.state = "outgoing";
    assert.deepEqual(first.stop, []);
    const pending = [
      worker({ generation: 2, state: "booting" }),
      worker({ generation: 2, state: "booting" }),
    ];
    const second = supersede([...serving, ...pending]);
    assert.deepEqual(second.replace, [], "outgoing workers stay outgoing");
    assert.deepEqual(second.stop, pending);
    for (const w of pending) w.state = "retiring";
    const plan = planWorkers([...serving, ...pending], 2, 3);
    assert.equal(plan.spawn, 2);
    assert.deepEqual(plan.stop, [], "nothing of the third generation serves yet: the first serves on");
  });
});

/** A small deterministic PRNG (mulberry32), so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the pool's invariant, over random event sequences", () => {
  test("no decision ever drops the accepting workers below min(what accepted, target)", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const records: WorkerRecord[] = [];
      // Judged by what the simulation knows, not by the states the code under test set:
      // a worker accepts once it has said it is ready, until it is asked to stop.
      const ready = new Set<WorkerRecord>();
      const serves = () => records.filter((w) => ready.has(w) && w.state !== "retiring" && !w.exited).length;
      let generation = 1;
      let target = 1 + Math.floor(random() * 4);
      const apply = (step: string) => {
        const before = serves();
        const plan = planWorkers(records, target, generation);
        for (const w of plan.replace) w.state = "outgoing";
        for (const w of plan.stop) w.state = "retiring";
        for (let i = 0; i < plan.spawn; i++) records.push(worker({ generation, state: "booting" }));
        const after = serves();
        assert.ok(
          after >= Math.min(before, target),
          `seed ${seed}, after ${step}: ${after} accepting, had ${before}, target ${target}`,
        );
      };
      apply("start");
      for (let step = 0; step < 60; step++) {
        const pick = random();
        const live = records.filter((w) => !w.exited);
        const any = <T>(list: T[]) => list[Math.floor(random() * list.length)];
        let what = "";
        if (pick < 0.15) {
          const before = serves();
          const { replace, stop } = supersede(records);
          for (const w of replace) w.state = "outgoing";
          for (const w of stop) w.state = "retiring";
          generation++;
          assert.equal(serves(), before, `seed ${seed}: a HUP stopped a serving worker`);
          what = "HUP";
        } else if (pick < 0.55) {
          const w = any(live.filter((w) => w.state === "booting"));
          if (w) {
            ready.add(w);
            w.state = w.generation === generation ? "serving" : "outgoing";
          }
          what = "ready";
        } else if (pick < 0.65) {
          target++;
          what = "TTIN";
        } else if (pick < 0.75) {
          target = Math.max(1, target - 1);
          what = "TTOU";
        } else if (pick < 0.85) {
          const w = any(live.filter((w) => w.state === "serving"));
          if (w) w.state = "outgoing";
          what = "recycle";
        } else {
          const w = any(live.filter((w) => w.state === "retiring"));
          if (w) w.exited = true;
          what = "exit";
        }
        apply(what);
      }
    }
  });
});

describe("stuckBooting", () => {
  test("a worker still booting past the timeout is stuck; one ready, killed already or younger is not", () => {
    const stuck = worker({ state: "booting", spawnedAt: 0 });
    const others = [
      worker({ state: "booting", spawnedAt: 9_000 }),
      worker({ state: "serving", spawnedAt: 0 }),
      worker({ state: "booting", spawnedAt: 0, lastSeen: Infinity }),
      worker({ state: "booting", spawnedAt: 0, exited: true }),
    ];
    assert.deepEqual(stuckBooting([stuck, ...others], 5_000, 10_000), [stuck]);
  });
});

describe("hungWorkers", () => {
  test("names the requests in flight of a worker blocked past the timeout", () => {
    const stuck = worker({
      lastSeen: 10_000,
      heartbeat: beat({
        loopLagMs: 25_000,
        inFlight: [{ request: "GET http://h/spin", ageMs: 24_000 }],
        overflow: 2,
      }),
    });
    const [hung] = hungWorkers([stuck, worker({ lastSeen: 15_000 })], 30_000, 16_000);
    assert.equal(hung?.worker, stuck);
    assert.equal(hung?.blockedMs, 31_000);
    assert.equal(hung?.inFlight, "GET http://h/spin (30.0 s) and 2 more");
  });

  test("a silent heartbeat thread counts; booting, stopping and already-killed workers do not", () => {
    const silent = worker({ lastSeen: 0 });
    const ignored = [
      worker({ state: "booting" }),
      worker({ state: "retiring" }),
      worker({ lastSeen: Infinity }),
      worker({ exited: true }),
    ];
    assert.deepEqual(hungWorkers([silent, ...ignored], 1000, 5000).map((h) => h.worker), [silent]);
    assert.equal(hungWorkers([silent], 1000, 5000)[0]?.inFlight, "no request");
  });
});
