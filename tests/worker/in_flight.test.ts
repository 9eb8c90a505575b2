/** The requests a worker's app holds, as the connection watcher asks for them. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InFlight } from "../../lib/worker/in_flight.ts";
import type { ServeInfo } from "../../lib/runtime/types.ts";

const INFO: ServeInfo = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 } };

function listed(inFlight: InFlight): string[] {
  const urls: string[] = [];
  inFlight.forEach((request) => urls.push(request.url));
  return urls;
}

describe("requests in flight", () => {
  test("each is listed with its info until deleted, and ids are reused", () => {
    const inFlight = new InFlight();
    const a = inFlight.add(new Request("http://h/a"), INFO);
    const b = inFlight.add(new Request("http://h/b"), INFO);
    assert.equal(inFlight.size, 2);
    assert.deepEqual(listed(inFlight), ["http://h/a", "http://h/b"]);
    inFlight.delete(a);
    assert.deepEqual(listed(inFlight), ["http://h/b"]);
    assert.equal(inFlight.add(new Request("http://h/c"), INFO), a);
    inFlight.delete(b);
    inFlight.delete(a);
    assert.equal(inFlight.size, 0);
    assert.deepEqual(listed(inFlight), []);
  });

  test("answered: forgotten at once, or once the runtime has sent a streamed body", async () => {
    let send = () => {};
    const sending = new Promise<void>((resolve) => send = resolve);
    const streamed = new Response(new ReadableStream());
    const inFlight = new InFlight((response) => response === streamed ? sending : null);
    const whole = inFlight.add(new Request("http://h/whole"), INFO);
    const stream = inFlight.add(new Request("http://h/stream"), INFO);
    const upgraded = inFlight.add(new Request("http://h/ws"), INFO);
    inFlight.answered(whole, new Response("ok"), INFO);
    inFlight.answered(upgraded, undefined, INFO);
    inFlight.answered(stream, streamed, INFO);
    assert.deepEqual(listed(inFlight), ["http://h/stream"]);
    send();
    await sending;
    assert.deepEqual(listed(inFlight), []);
    assert.equal(inFlight.size, 0);
  });
});
