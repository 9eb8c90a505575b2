/**
 * The stress harness counts what it must: scripts/stress/_load.ts against
 * small raw servers that misbehave on purpose, then scripts/stress/main.ts's
 * control scenario against the real CLI, under the runtime running the tests.
 */
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Load, type LoadResult, type Mode } from "../../scripts/stress/_load.ts";
import { readMigrateReq } from "../../scripts/stress/_sysctl.ts";
import { runScript, RUNTIME } from "../_helpers/corral.ts";

const T = { timeout: 30_000 };
const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A raw HTTP/1.1 server: `answer` decides, for the Nth request on a connection, what happens. */
function rawServer(answer: (socket: Socket, n: number) => string | "destroy"): Promise<number> {
  const server = createServer((socket) => {
    let buffered = "";
    let n = 0;
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      let end;
      while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
        buffered = buffered.slice(end + 4);
        const reply = answer(socket, ++n);
        if (reply === "destroy") return void socket.destroy();
        socket.write(reply);
      }
    });
  });
  servers.push(server);
  return new Promise((resolve) => {
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve((server.address() as { port: number }).port));
  });
}

function reply(status: string, extra = ""): string {
  return `HTTP/1.1 ${status}\r\ncontent-length: 3\r\nx-pid: 42\r\n${extra}\r\nok\n`;
}

async function run(port: number, mode: Mode, ms = 300): Promise<LoadResult> {
  const load = Load.start({ port, mode, clients: 4, rate: 400 });
  await new Promise((r) => setTimeout(r, ms));
  return await load.stop();
}

describe(`stress harness (${RUNTIME})`, () => {
  test("a server that answers every request gets no failure, in both load modes", T, async () => {
    const port = await rawServer(() => reply("200 OK"));
    for (const mode of ["keep-alive", "new-connection"] as const) {
      const result = await run(port, mode);
      assert.ok(result.requests > 20, `${mode}: ${result.requests} requests`);
      assert.deepEqual(result.failures, []);
      assert.equal(result.pids.get(42), result.requests);
    }
  });

  test("each connection closed under a request in flight is one failed request", T, async () => {
    let destroyed = 0;
    const port = await rawServer((_, n) => n % 3 === 0 ? (destroyed++, "destroy") : reply("200 OK"));
    const result = await run(port, "keep-alive");
    assert.ok(destroyed > 0);
    assert.equal(result.failures.length, destroyed);
    for (const f of result.failures) {
      assert.ok(["EOF", "ECONNRESET"].includes(f.code), f.code);
      assert.equal(f.reused, true);
      assert.equal(f.pid, 42);
    }
  });

  test("an error status is a failure; Connection: close is not, and the client reconnects", T, async () => {
    const port = await rawServer((_, n) =>
      n === 2 ? reply("503 Service Unavailable") : reply("200 OK", "connection: close\r\n")
    );
    const result = await run(port, "keep-alive");
    assert.equal(result.failures.length, 0, "every connection closes after its first answer");
    assert.ok(result.closeHeaders > 0);
    const busy = await rawServer((_, n) => reply(n % 2 ? "200 OK" : "503 Service Unavailable"));
    const mixed = await run(busy, "keep-alive");
    assert.ok(mixed.failures.length > 0);
    assert.ok(mixed.failures.every((f) => f.code === "HTTP 503"));
  });

  test("a refused connection fails with ECONNREFUSED", T, async () => {
    const port = await rawServer(() => reply("200 OK"));
    await new Promise((r) => (servers.pop() as Server).close(r));
    const result = await run(port, "new-connection", 100);
    assert.ok(result.failures.length > 0);
    assert.ok(result.failures.every((f) => f.code === "ECONNREFUSED"));
  });

  test("scripts/stress/main.ts: steady load on the real CLI loses no request", T, async () => {
    const setting = readMigrateReq();
    const args = [
      "scripts/stress/main.ts",
      "--runtime",
      RUNTIME,
      "--scenario",
      "steady",
      "--quick",
      "--migrate-req",
      setting === null ? "0" : String(setting),
    ];
    const { code, stdout, stderr } = await runScript(args[0] as string, args.slice(1));
    assert.equal(code, 0, stderr + stdout);
    const rows = stdout.split("\n").filter((l) => l.startsWith("| steady"));
    assert.equal(rows.length, 2, stdout);
    for (const row of rows) assert.equal(row.split("|")[6]?.trim(), "0", row);
  });
});
