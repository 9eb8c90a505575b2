import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Heartbeat } from "../../lib/ipc.ts";
import { hungWorkers, planWorkers, type WorkerRecord } from "../../lib/master/pool.ts";

let nextAge = 1;
function worker(fields: Partial<WorkerRecord> = {}): WorkerRecord {
  const age = nextAge++;
  return {
    pid: 1000 + age,
    child: { pid: 1000 + age, exited: new Promise(() => {}), send() {}, kill() {} },
    age,
    generation: 1,
    spawnedAt: 0,
    ready: true,
    outgoing: false,
    retiring: false,
    lastSeen: 0,
    heartbeat: null,
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
  test("spawns what is missing", () => {
    assert.deepEqual(planWorkers([worker()], 3), { spawn: 2, replace: [], stop: [] });
  });

  test("TTOU: a serving extra worker is replaced and stopped only while enough others serve", () => {
    const [old, young] = [worker(), worker()];
    const plan = planWorkers([old, young], 1);
    assert.deepEqual(plan.replace, [old]);
    assert.deepEqual(plan.stop, [old]);
  });

  test("an extra worker that does not serve yet goes first, the serving one stays", () => {
    const [serving, booting] = [worker(), worker({ ready: false })];
    const plan = planWorkers([serving, booting], 1);
    assert.deepEqual(plan.stop, [booting]);
    assert.deepEqual(plan.replace, []);
  });

  test("rolling: outgoing workers stop one per replacement that serves", () => {
    const old = [worker({ outgoing: true }), worker({ outgoing: true })];
    const fresh = [worker({ ready: true }), worker({ ready: false })];
    const plan = planWorkers([...old, ...fresh], 2);
    assert.equal(plan.spawn, 0);
    assert.deepEqual(
      plan.stop,
      [old[0]],
      "one new serves: the oldest old one stops, the other keeps serving",
    );
    const none = planWorkers([...old, worker({ ready: false }), worker({ ready: false })], 2);
    assert.deepEqual(none.stop, [], "no replacement serves yet: every old worker keeps serving");
  });

  test("workers already stopping do not count", () => {
    assert.equal(planWorkers([worker({ retiring: true })], 1).spawn, 1);
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
    const ignored = [worker({ ready: false }), worker({ retiring: true }), worker({ lastSeen: Infinity })];
    assert.deepEqual(hungWorkers([silent, ...ignored], 1000, 5000).map((h) => h.worker), [silent]);
    assert.equal(hungWorkers([silent], 1000, 5000)[0]?.inFlight, "no request");
  });
});
