/**
 * WebSockets through each runtime's own API (tests/apps/websocket.ts),
 * with the runtime's global WebSocket client: echo, the 101 in the access
 * log and the metrics, and a stopping worker that lets them run until
 * --graceful-timeout and then closes them with 1001.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Corral, freePort, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

after(stopAll);
const T = { timeout: 60_000 };
const APP = "tests/apps/websocket.ts";

/** A client WebSocket with what it received and how it closed. */
class Client {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  closed: { code: number; at: number } | null = null;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.onmessage = (event) => this.messages.push(String(event.data));
    this.ws.onclose = (event) => this.closed = { code: event.code, at: Date.now() };
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
    });
  }

  /** Sends `text` and waits for it to come back. */
  async echo(text: string): Promise<void> {
    const before = this.messages.length;
    this.ws.send(text);
    await waitFor(`the echo of ${text}`, () => this.messages.length > before, 5000);
    assert.equal(this.messages.at(-1), text);
  }
}

async function start(args: string[]): Promise<{ c: Corral; port: number }> {
  const port = await freePort();
  const c = new Corral(["-b", `127.0.0.1:${port}`, ...args, APP]);
  await c.ready();
  return { c, port };
}

describe(`WebSockets (${RUNTIME})`, () => {
  test("echo works; the upgrade is logged with 101 and counted as 1xx in the metrics", T, async () => {
    const metricsPort = await freePort();
    const { c, port } = await start(["--access-logfile", "-", "--metrics-bind", `127.0.0.1:${metricsPort}`]);
    const client = new Client(`ws://127.0.0.1:${port}/chat`);
    await client.opened;
    await client.echo("hello");
    await client.echo("twice");
    client.ws.close(1000);
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, "plain");
    await waitFor("the 101 in the access log", () => /"GET \/chat HTTP\/1\.1" 101 /.test(c.stdout));
    await waitFor("the upgrade in the metrics", async () => {
      const text = (await get(`http://127.0.0.1:${metricsPort}/metrics`)).body;
      return /corral_requests_total\{status="1xx"\} 1\b/.test(text);
    });
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test(
    "an idle WebSocket outlives --keep-alive and the slow-client timeouts, and a quiet one the header timeout",
    T,
    async () => {
      // Everything at 1 s: the connection watcher looks often, and a WebSocket is idle and slow by its rules.
      const { c, port } = await start(["--keep-alive", "1", "--header-timeout", "1", "--body-timeout", "1"]);
      const client = new Client(`ws://127.0.0.1:${port}/`);
      await client.opened;
      await client.echo("before");
      await new Promise((r) => setTimeout(r, 3500));
      assert.equal(client.closed, null, "still open after 3.5 s of silence");
      await client.echo("after 3.5 s idle");
      // A trickle of messages, each a few bytes, slower than --min-upload-rate.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 700));
        await client.echo(`trickle ${i}`);
      }
      assert.equal(client.closed, null);
      client.ws.close(1000);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test("TERM: an open WebSocket runs on until --graceful-timeout, then is closed with 1001", T, async () => {
    const { c, port } = await start(["--graceful-timeout", "3"]);
    const client = new Client(`ws://127.0.0.1:${port}/`);
    await client.opened;
    const termAt = Date.now();
    c.kill("SIGTERM");
    await c.waitForLog(/Waiting for 1 WebSockets to close/);
    await client.echo("still here after TERM");
    await waitFor("the close", () => client.closed !== null, 10_000);
    assert.equal(client.closed?.code, 1001);
    const after = (client.closed?.at ?? 0) - termAt;
    assert.ok(after >= 2000 && after < 3500, `closed ${after} ms after TERM`);
    assert.equal((await c.exit()).code, 0);
    assert.match(c.stderr, /Closing 1 WebSockets \(1001\)/);
  });

  test(
    "HUP: the old worker's WebSocket runs until --graceful-timeout while the new one serves",
    T,
    async () => {
      const { c, port } = await start(["--graceful-timeout", "3"]);
      const [old] = c.workerPids();
      const client = new Client(`ws://127.0.0.1:${port}/`);
      await client.opened;
      const hupAt = Date.now();
      c.kill("SIGHUP");
      await c.waitForLog(/Waiting for 1 WebSockets to close/);
      await client.echo("still here after HUP");
      const fresh = new Client(`ws://127.0.0.1:${port}/`);
      await fresh.opened;
      await fresh.echo("on the new worker");
      await waitFor("the old one's close", () => client.closed !== null, 10_000);
      assert.equal(client.closed?.code, 1001);
      assert.ok(
        (client.closed?.at ?? 0) - hupAt >= 2000,
        `closed ${(client.closed?.at ?? 0) - hupAt} ms after HUP`,
      );
      assert.equal(fresh.closed, null, "the new worker's socket stays open");
      await fresh.echo("and goes on");
      assert.ok(!c.workerPids().slice(1).includes(old as number));
      fresh.ws.close(1000);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    },
  );

  test("recycling (--max-requests): the retiring worker's WebSocket runs on, then 1001", T, async () => {
    const { c, port } = await start(["--graceful-timeout", "2", "--max-requests", "3"]);
    const client = new Client(`ws://127.0.0.1:${port}/`);
    await client.opened;
    for (let i = 0; i < 2; i++) await get(`http://127.0.0.1:${port}/`);
    await c.waitForLog(/Waiting for 1 WebSockets to close/);
    const retiredAt = Date.now();
    await client.echo("still here while retiring");
    await waitFor("the close", () => client.closed !== null, 10_000);
    assert.equal(client.closed?.code, 1001);
    assert.ok((client.closed?.at ?? 0) - retiredAt >= 1000, "it ran on for most of the graceful timeout");
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, "plain");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});
