/** Judging connections from TCP_INFO snapshots: idle (--keep-alive) and slow clients (lib/runtime/_exchange.ts). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bodyIncomplete,
  type Exchange,
  headBound,
  isIdle,
  judge,
  newExchange,
  overdue,
  sameConnection,
  type SlowLimits,
  track,
} from "../../lib/runtime/_exchange.ts";
import { peerKey, type TcpInfo } from "../../lib/runtime/_tcp_info.ts";

const LIMITS: SlowLimits = { headerMs: 20_000, bodyMs: 20_000, minRate: 500 };
const PEER = "192.0.2.7|40000";

/** A connection's TCP_INFO at some moment; by default established, never sent nor received. */
function info(over: Partial<TcpInfo> = {}): TcpInfo {
  return {
    state: 1,
    sentMs: 0,
    receivedMs: 0,
    everSent: false,
    everReceived: false,
    bytesAcked: 0,
    bytesReceived: 0,
    sending: false,
    ...over,
  };
}

/** Looks at a connection at each of `looks` (time, snapshot), as a watcher does; returns the last record. */
function follow(looks: [number, TcpInfo][]): Exchange {
  let ex: Exchange | undefined;
  for (const [now, snapshot] of looks) {
    if (ex !== undefined && sameConnection(ex, snapshot, now)) track(ex, snapshot, now);
    else ex = newExchange(snapshot, 80, PEER, now);
  }
  return ex as Exchange;
}

describe("idle connections (--keep-alive)", () => {
  const quiet = (
    sentMs: number,
    receivedMs: number,
    everSent = true,
    everReceived = true,
    sending = false,
  ) => ({
    sentMs,
    receivedMs,
    everSent,
    everReceived,
    sending,
  });

  test("waiting for the client since the last answer: idle once that is old enough", () => {
    assert.equal(isIdle(quiet(1200, 1210), 1000), true);
    assert.equal(isIdle(quiet(900, 910), 1000), false);
  });

  test("a request received after the last answer is in progress: never idle", () => {
    assert.equal(isIdle(quiet(5000, 4000), 1000), false);
    assert.equal(isIdle(quiet(5000, 5000, false, true), 1000), false, "its first request, nothing sent yet");
  });

  test("a connection that never sent anything is idle from the start", () => {
    assert.equal(isIdle(quiet(1500, 1500, false, false), 1000), true);
  });

  test("an answer still going out (a client that stopped reading it): never idle", () => {
    assert.equal(isIdle(quiet(5000, 6000, true, true, true), 1000), false);
  });

  test("a tie of the kernel's clock looks idle: the watcher asks the requests in flight", () => {
    assert.equal(isIdle(quiet(1500, 1500), 1000), true);
  });
});

describe("slow clients: heads (--header-timeout)", () => {
  test("a head trickled at a few bytes a second is too slow past the timeout, not before", () => {
    // Accepted at 0, 10 bytes every second from then on; the app never gets the request.
    const looks: [number, TcpInfo][] = [];
    for (let s = 1; s <= 22; s++) {
      looks.push([
        s * 1000,
        info({ sentMs: s * 1000, receivedMs: 0, everReceived: true, bytesReceived: 10 * s }),
      ]);
    }
    const at = (n: number) => follow(looks.slice(0, n));
    const [t19, i19] = looks[18] as [number, TcpInfo];
    assert.equal(overdue(at(19), i19, t19, LIMITS), false, "19 s and 190 bytes: within 20 s + 0.38 s");
    const [t21, i21] = looks[20] as [number, TcpInfo];
    const ex = at(21);
    assert.equal(overdue(ex, i21, t21, LIMITS), true);
    assert.equal(judge(ex, i21, t21, LIMITS, undefined, false), "head");
  });

  test("a connection that sends nothing at all is closed at the header timeout", () => {
    const ex = follow([[21_000, info({ sentMs: 21_000, receivedMs: 21_000 })]]);
    assert.equal(ex.receiving, true);
    assert.equal(
      judge(ex, info({ sentMs: 21_000, receivedMs: 21_000 }), 21_000, LIMITS, undefined, false),
      "head",
    );
  });

  test("a fast sender is never slow: each 500 bytes received buy a second", () => {
    const snapshot = info({ sentMs: 60_000, receivedMs: 0, everReceived: true, bytesReceived: 30_000_000 });
    assert.equal(overdue(follow([[60_000, snapshot]]), snapshot, 60_000, LIMITS), false);
  });

  test("the clock starts again when the client sends after an answer (keep-alive's next request)", () => {
    // A request (80 bytes) answered (200 bytes) a moment before the first look.
    const answered = info({ everSent: true, everReceived: true, bytesReceived: 80 });
    const ex = follow([
      [100_000, { ...answered, bytesAcked: 200, sentMs: 100, receivedMs: 105 }],
      // The next request's first bytes come at 119.5 s; nothing was sent since.
      [120_000, { ...answered, bytesAcked: 200, sentMs: 20_100, receivedMs: 500, bytesReceived: 100 }],
    ]);
    assert.equal(ex.receiving, true);
    assert.equal(ex.since, 119_500);
    assert.equal(ex.base, 80);
    const later = { ...answered, bytesAcked: 200, sentMs: 45_100, receivedMs: 25_500, bytesReceived: 100 };
    assert.equal(judge(ex, later, 145_000, LIMITS, undefined, false), "head");
  });

  test("a descriptor reused by another connection is told apart: counters back, or a later birth", () => {
    const ex = follow([[50_000, info({ sentMs: 50_000, everReceived: true, bytesReceived: 40 })]]);
    assert.equal(
      sameConnection(ex, info({ sentMs: 50_100, everReceived: true, bytesReceived: 60 }), 50_100),
      true,
    );
    assert.equal(sameConnection(ex, info({ sentMs: 100 }), 50_100), false, "born at 50 s, not at 0");
    assert.equal(
      sameConnection(ex, info({ sentMs: 50_100, everReceived: true, bytesReceived: 10 }), 50_100),
      false,
    );
    const answered = follow([[1_000, info({ sentMs: 10, receivedMs: 20, everSent: true, bytesAcked: 300 })]]);
    assert.equal(
      sameConnection(answered, info({ sentMs: 500 }), 1_500),
      false,
      "never sent: acked went back",
    );
  });

  test("a descriptor reused by a connection that made the same exchange: its data moved later", () => {
    // Answered at 0.99 s, looked at at 1 s; then closed, and its descriptor given to a connection that sent
    // the same request and got the same answer, at 1.6 s.
    const same = { everSent: true, everReceived: true, bytesAcked: 300, bytesReceived: 40 };
    const ex = follow([[1_000, info({ ...same, sentMs: 10, receivedMs: 12 })]]);
    assert.equal(sameConnection(ex, info({ ...same, sentMs: 510, receivedMs: 512 }), 1_500), true, "still");
    assert.equal(sameConnection(ex, info({ ...same, sentMs: 400, receivedMs: 402 }), 2_000), false, "later");
    const more = { ...same, bytesAcked: 600, bytesReceived: 80 };
    assert.equal(sameConnection(ex, info({ ...more, sentMs: 400, receivedMs: 402 }), 2_000), true, "moved");
    assert.equal(
      sameConnection(ex, info({ ...same, sentMs: 1_008, receivedMs: 1_010 }), 2_000),
      true,
      "the kernel's clock ticks every few milliseconds",
    );
  });
});

describe("slow clients: bodies (--body-timeout)", () => {
  const post = (length: number, headers: Record<string, string> = {}) =>
    new Request("http://x/upload", {
      method: "POST",
      headers: { "content-length": String(length), ...headers },
    });

  test("an app slow to answer a request received in a second is never cut", () => {
    // The whole request (2 KB) came in the first second; the app has worked on it for ten minutes.
    const snapshot = info({ sentMs: 600_000, receivedMs: 599_000, everReceived: true, bytesReceived: 2_000 });
    const ex = follow([[600_000, snapshot]]);
    assert.equal(overdue(ex, snapshot, 600_000, LIMITS), true, "a suspect until the app is asked");
    assert.equal(judge(ex, snapshot, 600_000, LIMITS, post(1_800), false), null);
    assert.equal(judge(ex, snapshot, 600_000, LIMITS, null, false), null, "at the app, headers unknown");
  });

  test("a body trickled at 1 byte a second is too slow", () => {
    // 1 MB declared, 150 bytes of head then 1 byte a second for 25 s.
    const snapshot = info({ sentMs: 25_000, receivedMs: 0, everReceived: true, bytesReceived: 175 });
    const ex = follow([[25_000, snapshot]]);
    assert.equal(judge(ex, snapshot, 25_000, LIMITS, post(1_000_000), false), "body");
  });

  test("a client silent mid-body is too slow: its bytes prove the body incomplete", () => {
    // Half of a 10 kB body in the first second, then nothing: 20 s + 5,000 / 500 s allowed.
    const snapshot = info({ sentMs: 35_000, receivedMs: 34_000, everReceived: true, bytesReceived: 5_000 });
    const ex = follow([[35_000, snapshot]]);
    assert.equal(judge(ex, snapshot, 29_000, LIMITS, post(10_000), false), null);
    assert.equal(judge(ex, snapshot, 35_000, LIMITS, post(10_000), false), "body");
    // Silent after all of it: that is the app's time.
    const whole = { ...snapshot, bytesReceived: 10_000 + headBound(post(10_000)) };
    assert.equal(judge(follow([[35_000, whole]]), whole, 35_000, LIMITS, post(10_000), false), null);
  });

  test("without Content-Length, or after Expect: 100-continue, only the sending time counts", () => {
    const snapshot = info({ sentMs: 25_000, receivedMs: 24_000, everReceived: true, bytesReceived: 300 });
    const chunked = new Request("http://x/", { method: "POST", headers: { "transfer-encoding": "chunked" } });
    assert.equal(bodyIncomplete(chunked, 300, false), false);
    assert.equal(bodyIncomplete(post(10_000, { expect: "100-continue" }), 300, false), false);
    assert.equal(judge(follow([[25_000, snapshot]]), snapshot, 25_000, LIMITS, chunked, false), null);
  });

  test("with TLS only the Content-Length counts (HTTP/2 compresses heads)", () => {
    assert.equal(bodyIncomplete(post(1000), 1100, true), false);
    assert.equal(bodyIncomplete(post(1000), 900, true), true);
  });

  test("the smallest head is never more than the bytes the request took on the wire", () => {
    const wire = "POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n" +
      "Accept: a\r\nAccept:  b \r\nCookie: c=1\r\nCookie: d=2\r\n\r\n";
    const request = new Request("http://example.com/upload?x=1", {
      method: "POST",
      headers: [["host", "example.com"], ["content-length", "10"], ["accept", "a, b"], [
        "cookie",
        "c=1; d=2",
      ]],
    });
    assert.ok(headBound(request) <= wire.length, `${headBound(request)} > ${wire.length}`);
    assert.ok(headBound(request) > 60, "but close to it");
  });

  test("an upgraded connection (WebSocket) is never overdue", () => {
    const snapshot = info({ sentMs: 90_000, receivedMs: 0, everReceived: true, bytesReceived: 10 });
    const ex = follow([[90_000, snapshot]]);
    ex.upgraded = true;
    assert.equal(overdue(ex, snapshot, 90_000, LIMITS), false);
  });

  test("a response going out ends the exchange: never judged while sending", () => {
    const ex = follow([
      [1_000, info({ sentMs: 1_000, everReceived: true, bytesReceived: 100 })],
      [30_000, info({ sentMs: 0, everSent: true, everReceived: true, bytesReceived: 100, sending: true })],
    ]);
    assert.equal(ex.receiving, false);
  });
});

describe("peers", () => {
  test("the runtimes' addresses key as getpeername's do", () => {
    assert.equal(peerKey("127.0.0.1", 80), "127.0.0.1|80");
    assert.equal(peerKey("::ffff:127.0.0.1", 80), "127.0.0.1|80");
    assert.equal(peerKey("::1", 81), "0:0:0:0:0:0:0:1|81");
    assert.equal(peerKey("[2001:DB8::a:0:1]", 82), "2001:db8:0:0:0:a:0:1|82");
    assert.equal(peerKey("fe80::1%eth0", 83), "fe80:0:0:0:0:0:0:1|83");
    assert.equal(peerKey("example.com", 84), null);
    assert.equal(peerKey("1:2:3", 84), null);
  });
});
