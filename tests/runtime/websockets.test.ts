/** The seam's count of open WebSockets, which a stopping worker waits for. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SocketRegistry } from "../../lib/runtime/_websockets.ts";

describe("SocketRegistry", () => {
  test("closed() resolves once the last open socket is gone; closeAll() closes each with the code", async () => {
    const closes: string[] = [];
    const sockets = new SocketRegistry<string>((s, code, reason) => closes.push(`${s} ${code} ${reason}`));
    await sockets.closed();
    sockets.add("a");
    sockets.add("b");
    let done = false;
    const closed = sockets.closed().then(() => done = true);
    sockets.closeAll(1001, "going away");
    assert.deepEqual(closes, ["a 1001 going away", "b 1001 going away"]);
    sockets.delete("a");
    await Promise.resolve();
    assert.equal(done, false);
    assert.equal(sockets.open, 1);
    sockets.delete("b");
    await closed;
    assert.equal(sockets.open, 0);
  });

  test("a socket that cannot be closed yet does not stop the others", () => {
    const closes: string[] = [];
    const sockets = new SocketRegistry<string>((s) => {
      if (s === "connecting") throw new DOMException("not open yet", "InvalidStateError");
      closes.push(s);
    });
    sockets.add("connecting");
    sockets.add("open");
    sockets.closeAll(1001, "going away");
    assert.deepEqual(closes, ["open"]);
  });
});
