/**
 * The connection watcher on real sockets of this process (lib/runtime/_watcher.ts), with its clock moved
 * forward instead of waiting: what it closes, answers 408, and leaves alone. Linux.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import type { LibcCalls } from "../../lib/runtime/_libc.ts";
import { type TcpInfo, TcpProbe } from "../../lib/runtime/_tcp_info.ts";
import { ConnectionWatcher, markUpgraded, type WatchOptions } from "../../lib/runtime/_watcher.ts";
import type { InFlightRequests, ServeInfo } from "../../lib/runtime/types.ts";
import { runtime } from "../../lib/runtime/mod.ts";
import { InFlight } from "../../lib/worker/in_flight.ts";
import { freePort, IS_BUN, RUNTIME, waitFor } from "../_helpers/corral.ts";

const LINUX = { skip: process.platform !== "linux" ? "needs Linux's /proc and TCP_INFO" : false };
const SLOW = { headerMs: 20_000, bodyMs: 20_000, minRate: 500 };

async function libc(): Promise<LibcCalls> {
  const module = IS_BUN
    ? await import("../../lib/runtime/datagram_bun.ts")
    : await import("../../lib/runtime/datagram_deno.ts");
  return module.openLibc();
}

/**
 * A server that reads everything and never answers (the app would be elsewhere), or with `answer` writes
 * it back for each read; the bytes it has read, and its end of each connection.
 */
async function listen(answer = "") {
  let read = 0;
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    socket.on("data", (d: Uint8Array) => {
      read += d.length;
      // More than the socket buffers of both ends hold, for a client that does not read.
      if (new TextDecoder().decode(d).includes("GET /big ")) socket.write(new Uint8Array(64 << 20));
      else if (answer) socket.write(answer);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, read: () => read, accepted };
}

/** A client that records what it receives and when the server ends the connection. */
async function client(port: number, send: string) {
  const socket: Socket = connect(port, "127.0.0.1");
  let received = "";
  let ended = false;
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => received += d);
  socket.on("end", () => ended = true);
  socket.on("error", () => ended = true);
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(send);
  return { socket, received: () => received, ended: () => ended };
}

/** Requests in flight, as the worker's front would list them. */
function inFlight(entries: [Request, Socket][]): InFlightRequests {
  return {
    get size() {
      return entries.length;
    },
    forEach(fn) {
      for (const [request, socket] of entries) {
        const info: ServeInfo = {
          remoteAddr: { transport: "tcp", hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 },
        };
        fn(request, info);
      }
    },
  };
}

/** The kernel's answers, as if `skew` more milliseconds had passed with no data either way. */
class AheadProbe extends TcpProbe {
  skew = 0;
  /** Milliseconds the kernel's clock reads behind this one, as if the look had been held up. */
  lag = 0;
  /** Set: every socket's peer is this, as if each descriptor had been reused by another connection. */
  otherPeer: string | null = null;
  override info(fd: number): TcpInfo | null {
    const info = super.info(fd);
    const ahead = this.skew + this.lag;
    return info && { ...info, sentMs: info.sentMs + ahead, receivedMs: info.receivedMs + ahead };
  }
  override peer(fd: number): string | null {
    return this.otherPeer ?? super.peer(fd);
  }
}

/** A watcher of one server whose clock can be moved ahead. */
class Watcher extends ConnectionWatcher {
  readonly #probe: AheadProbe;
  constructor(libc: LibcCalls, options: WatchOptions, probe = new AheadProbe(libc)) {
    super(libc, probe);
    this.add(options);
    this.#probe = probe;
  }

  get probe(): AheadProbe {
    return this.#probe;
  }

  /** One look, as if `seconds` had passed since the connections' last data. */
  async lookAt(seconds: number) {
    this.#probe.skew = seconds * 1000;
    return await this.look(false, this.#probe.skew);
  }

  /** Looks now, then as if `seconds` had passed (late, judging nothing), then once more on time. */
  async lookAfter(seconds: number) {
    this.#probe.skew = 0;
    await this.look();
    this.#probe.skew = seconds * 1000;
    const late = await this.look(true, this.#probe.skew);
    assert.equal(late.heads + late.bodies, 0, "a late look judges nothing");
    this.#probe.skew += this.interval;
    return await this.look(false, this.#probe.skew);
  }
}

const servers: Server[] = [];
const sockets: Socket[] = [];
after(() => {
  sockets.forEach((s) => s.destroy());
  servers.forEach((s) => s.close());
});

describe(`connection watcher (${RUNTIME})`, LINUX, () => {
  async function setup(options: Partial<WatchOptions> = {}, answer = "") {
    const { server, port, read, accepted } = await listen(answer);
    servers.push(server);
    const watcher = new Watcher(await libc(), { port, tls: false, idleMs: null, slow: SLOW, ...options });
    /** Until the server has read `bytes` in all. */
    const reads = (bytes: number) => waitFor(`the server to read ${bytes} bytes`, () => read() >= bytes);
    return { port, watcher, reads, accepted };
  }

  test("a head still incomplete past the header timeout is answered 408 and closed", async () => {
    const { port, watcher, reads } = await setup();
    const slow = await client(port, "GET / HTTP/1.1\r\nHost: x\r\n");
    sockets.push(slow.socket);
    await reads(25);
    assert.deepEqual(await watcher.look(), { idle: 0, heads: 0, bodies: 0, answered: 0 }, "not before");
    assert.deepEqual(await watcher.lookAfter(21), { idle: 0, heads: 1, bodies: 0, answered: 1 });
    await waitFor("the 408 and the end", () => slow.ended());
    assert.equal(
      slow.received(),
      "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
  });

  test("a connection that never sent a byte is closed without an answer", async () => {
    const { port, watcher } = await setup();
    const silent = await client(port, "");
    sockets.push(silent.socket);
    assert.deepEqual(await watcher.lookAfter(21), { idle: 0, heads: 1, bodies: 0, answered: 0 });
    await waitFor("the end", () => silent.ended());
    assert.equal(silent.received(), "");
  });

  test("a request the app holds, received whole, is never cut however long the app takes", async () => {
    const request = new Request("http://x/", { method: "POST", headers: { "content-length": "5" } });
    const holder: [Request, Socket][] = [];
    const { port, watcher, reads } = await setup({ inFlight: inFlight(holder) });
    const whole = await client(port, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    sockets.push(whole.socket);
    await reads(43);
    holder.push([request, whole.socket]);
    assert.deepEqual(await watcher.lookAfter(600), { idle: 0, heads: 0, bodies: 0, answered: 0 });
    assert.equal(whole.ended(), false);
  });

  test("a request the app holds whose body stopped half-way is closed past the body timeout", async () => {
    const request = new Request("http://x/", { method: "POST", headers: { "content-length": "1000" } });
    const holder: [Request, Socket][] = [];
    const { port, watcher, reads } = await setup({ inFlight: inFlight(holder) });
    const half = await client(port, "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + "z".repeat(500));
    sockets.push(half.socket);
    await reads(541);
    holder.push([request, half.socket]);
    // 20 s, and 1.08 s for the 541 bytes received: not yet at 20 s.
    assert.deepEqual(await watcher.lookAfter(19), { idle: 0, heads: 0, bodies: 0, answered: 0 });
    assert.deepEqual(await watcher.lookAfter(23), { idle: 0, heads: 0, bodies: 1, answered: 1 });
    await waitFor("the 408", () => half.received().startsWith("HTTP/1.1 408 "));
  });

  const ANSWER = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const NONE = { idle: 0, heads: 0, bodies: 0, answered: 0 };
  const IDLE = { idle: 1, heads: 0, bodies: 0, answered: 0 };
  const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

  test("--keep-alive: an answered connection is closed once idle, one with a request in flight is not", async () => {
    // The request in flight came pipelined behind the one answered, or its response streams: to the kernel,
    // both connections have waited for their client since their last answer.
    const holder: [Request, Socket][] = [];
    const { port, watcher } = await setup({ idleMs: 1000, slow: null, inFlight: inFlight(holder) }, ANSWER);
    const busy = await client(port, GET);
    const idle = await client(port, GET);
    sockets.push(busy.socket, idle.socket);
    await waitFor("both answers", () => busy.received() === ANSWER && idle.received() === ANSWER);
    holder.push([new Request("http://x/slow"), busy.socket]);
    assert.deepEqual(await watcher.look(), NONE, "not before");
    assert.deepEqual(await watcher.lookAt(2), NONE, "found idle: closed at the next look");
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("the idle one's end", () => idle.ended());
    assert.equal(busy.ended(), false);
    holder.length = 0;
    assert.deepEqual(await watcher.lookAt(2), NONE);
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("the other's end, its answer done", () => busy.ended());
  });

  test("--keep-alive: data that moves after the look that found a connection idle keeps it open", async () => {
    // An answer the app returned just before that look, which the runtime wrote just after it.
    const { port, watcher, accepted } = await setup({ idleMs: 1000, slow: null }, ANSWER);
    const answered = await client(port, GET);
    sockets.push(answered.socket);
    await waitFor("the answer", () => answered.received() === ANSWER);
    assert.deepEqual(await watcher.lookAt(2), NONE);
    accepted[0]?.write(ANSWER);
    await waitFor("the late answer", () => answered.received() === ANSWER + ANSWER);
    assert.deepEqual(await watcher.lookAt(2), NONE, "data moved: found idle again, not closed");
    assert.equal(answered.ended(), false);
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("its end", () => answered.ended());
  });

  test("--keep-alive: the runtime's server: an answer returned just before a look, not yet written, is sent", async () => {
    // Deno writes an answer on its event loop's next turn: the first of two timers due together answers the
    // request pipelined behind another; the second looks, and finds the connection as idle as it was.
    const inFlight = new InFlight(runtime.whenSent);
    let answer = (_: Response) => {};
    const port = await freePort();
    const server = runtime.serve({
      address: { transport: "tcp", hostname: "127.0.0.1", port },
      reusePort: false,
      tls: null,
      onError: () => new Response("error", { status: 500 }),
      handler: (request, info) => {
        const id = inFlight.add(request, info);
        if (new URL(request.url).pathname === "/") {
          inFlight.delete(id);
          return new Response("ok");
        }
        return new Promise<Response>((resolve) => answer = resolve).then((response) => {
          inFlight.answered(id, response, info);
          return response;
        });
      },
    });
    try {
      const watcher = new Watcher(await libc(), { port, tls: false, idleMs: 1000, slow: null, inFlight });
      const conn = await client(port, `${GET}GET /later HTTP/1.1\r\nHost: x\r\n\r\n`);
      sockets.push(conn.socket);
      await waitFor("the first answer, the second request at the app", () => inFlight.size === 1);
      await waitFor("the first answer", () => /\r\n\r\nok$/.test(conn.received()));
      assert.deepEqual(await watcher.lookAt(2), NONE, "its request is at the app");
      const looked = await new Promise((resolve) => {
        setTimeout(() => answer(new Response("later")), 20);
        setTimeout(() => resolve(watcher.lookAt(2)), 20);
      });
      assert.deepEqual(looked, NONE);
      await waitFor("the second answer", () => conn.received().endsWith("later") || conn.ended());
      assert.match(conn.received(), /ok[^]*later$/);
    } finally {
      await server.shutdown();
    }
  });

  test("--keep-alive: while a server sends responses on connections it does not name, no answered one is closed", async () => {
    let sending = 1;
    const { port, watcher } = await setup({ idleMs: 1000, slow: null, sending: () => sending }, ANSWER);
    const answered = await client(port, GET);
    const silent = await client(port, "");
    sockets.push(answered.socket, silent.socket);
    await waitFor("the answer", () => answered.received() === ANSWER);
    // The silent one never sent a request: no response can be on it, so it is closed at once.
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("the silent one's end", () => silent.ended());
    assert.deepEqual(await watcher.lookAt(2), NONE);
    assert.equal(answered.ended(), false);
    sending = 0;
    assert.deepEqual(await watcher.lookAt(2), NONE);
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("the answered one's end", () => answered.ended());
  });

  test("--keep-alive: those responses are not one a client stopped reading: the kernel shows that one", async () => {
    const { port, watcher } = await setup({ idleMs: 1000, slow: null, sending: () => 1 }, ANSWER);
    const answered = await client(port, GET);
    const stalled = await client(port, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    stalled.socket.pause();
    sockets.push(answered.socket, stalled.socket);
    await waitFor("the answer", () => answered.received() === ANSWER);
    assert.deepEqual(await watcher.lookAt(2), NONE);
    assert.deepEqual(await watcher.lookAt(2), IDLE);
    await waitFor("the answered one's end", () => answered.ended());
    assert.equal(stalled.ended(), false);
  });

  test("an upgraded connection is never closed, and TLS gets no 408", async () => {
    const { port, watcher, reads } = await setup({ tls: true });
    const upgraded = await client(port, "\x81\x05hello");
    const other = await client(port, "\x16\x03\x01");
    sockets.push(upgraded.socket, other.socket);
    await reads(10);
    assert.equal(markUpgraded(upgraded.socket.localAddress ?? "", upgraded.socket.localPort ?? 0), true);
    assert.deepEqual(await watcher.lookAfter(3600), { idle: 0, heads: 1, bodies: 0, answered: 0 });
    await waitFor("the other's end", () => other.ended());
    assert.equal(other.received(), "");
    assert.equal(upgraded.ended(), false);
  });

  test("a connection whose times read off is still the one followed: a WebSocket is never closed", async () => {
    const { port, watcher } = await setup({ idleMs: 1000, slow: null }, ANSWER);
    const upgraded = await client(port, "\x81\x05hello");
    sockets.push(upgraded.socket);
    await waitFor("the answer", () => upgraded.received() === ANSWER);
    assert.equal(markUpgraded(upgraded.socket.localAddress ?? "", upgraded.socket.localPort ?? 0), true);
    assert.deepEqual(await watcher.lookAt(2), NONE);
    // Its data seems to have moved 0.2 s later than the last look saw, with no byte more: asked its peer again.
    watcher.probe.lag = 200;
    assert.deepEqual(await watcher.lookAt(3), NONE);
    assert.deepEqual(await watcher.lookAt(4), NONE);
    assert.equal(upgraded.ended(), false);
  });

  test("a descriptor that is another connection than the one followed is never closed for it", async () => {
    const { port, watcher, reads } = await setup();
    const slow = await client(port, "GET / HTTP/1.1\r\n");
    sockets.push(slow.socket);
    await reads(16);
    await watcher.look();
    // Same counters, another peer: the descriptor was closed and reused (by the app's own connection, say).
    watcher.probe.otherPeer = "203.0.113.9|5432";
    assert.deepEqual(await watcher.lookAfter(21), { idle: 0, heads: 0, bodies: 0, answered: 0 });
    assert.equal(slow.ended(), false);
    assert.equal(slow.received(), "");
  });
});
