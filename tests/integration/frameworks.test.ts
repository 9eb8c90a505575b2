/**
 * The framework compatibility suite: Hono, Elysia and itty-router sample
 * apps (tests/apps/frameworks/), each served by corral and by the bare
 * runtime (tests/apps/frameworks/bare.ts), under the runtime running the
 * tests; every answer compared. What fails on the bare runtime too is listed
 * in KNOWN (and README's table): the suite checks it still fails the same way
 * under corral, and tells when it starts to work.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import process from "node:process";
import { cliCommand, Corral, freePort, ROOT, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";

const bare = new Set<ChildProcess>();
after(async () => {
  for (const child of bare) child.kill("SIGKILL");
  await stopAll();
});
const T = { timeout: 120_000 };
const MB = 50;

/** One answer, reduced to what the suite compares. */
interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const _COMPARED = ["content-type", "location", "set-cookie", "etag", "content-length"];

function call(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1",
      port,
      path,
      method: options.method ?? "GET",
      agent: false,
      headers: { connection: "close", ...options.headers },
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => body += d.length > 200 ? `[${d.length} chars]` : d);
      res.on("end", () => {
        // A handler that threw: corral's 500 and the runtime's differ in
        // their headers (corral's says text/plain), not in their meaning.
        if (res.statusCode === 500) return resolve({ status: 500, body: "(the handler threw)", headers: {} });
        const headers: Record<string, string> = {};
        for (const name of _COMPARED) {
          const value = res.headers[name];
          if (value !== undefined) headers[name] = String(value);
        }
        resolve({ status: res.statusCode ?? 0, body, headers });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${path} timed out`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Bytes of a download. */
function downloaded(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (d: Uint8Array) => bytes += d.byteLength);
      res.on("end", () => resolve(bytes));
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Reads the first bytes of /abort's endless answer, then goes away; whether the app saw its signal abort. */
async function abortSeen(port: number): Promise<boolean> {
  const before = Number((await call(port, "/aborted")).body);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("data", () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
    socket.write("GET /abort HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  });
  try {
    await waitFor("the app's abort", async () => Number((await call(port, "/aborted")).body) > before, 5000);
    return true;
  } catch {
    return false;
  }
}

/** Sends "hi" over the framework's WebSocket route; what came back, or how it failed. */
async function wsEcho(port: number): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const result = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve("no answer"), 5000);
    ws.onopen = () => ws.send("hi");
    ws.onmessage = (event) => {
      clearTimeout(timer);
      resolve(String(event.data));
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve("failed");
    };
  });
  ws.close();
  return result;
}

/** What the suite asks of each app: each check's result, and whether it is the working one. */
const CHECKS: Record<
  string,
  { run(port: number): Promise<unknown>; works(result: unknown, fw: string): boolean }
> = {
  "routes and params": {
    run: (port) => call(port, "/hello/world"),
    works: (r) => (r as Answer).body === "hello world",
  },
  "JSON": {
    run: (port) => call(port, "/json"),
    works: (r, fw) => JSON.parse((r as Answer).body).framework === fw,
  },
  "JSON body": {
    run: (port) =>
      call(port, "/echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"x":[1,2]}',
      }),
    works: (r) => (r as Answer).body === '{"got":{"x":[1,2]}}',
  },
  "cookies": {
    run: async (
      port,
    ) => [await call(port, "/cookie"), await call(port, "/cookie/read", { headers: { cookie: "sid=abc" } })],
    works: (r) => {
      const [set, read] = r as Answer[];
      return /^sid=abc; Path=\/; HttpOnly$/i.test(set?.headers["set-cookie"] ?? "") &&
        read?.body === "sid=abc";
    },
  },
  "redirects": {
    run: (port) => call(port, "/redirect"),
    works: (r) =>
      (r as Answer).status === 302 && /\/hello\/redirected$/.test((r as Answer).headers.location ?? ""),
  },
  "HEAD": {
    run: (port) => call(port, "/hello/world", { method: "HEAD" }),
    works: (r) => (r as Answer).status === 200 && (r as Answer).body === "",
  },
  "ETag and 304": {
    run: async (port) => {
      const first = await call(port, "/etag");
      return [first, await call(port, "/etag", { headers: { "if-none-match": first.headers.etag ?? "" } })];
    },
    works: (r) => (r as Answer[])[0]?.status === 200 && (r as Answer[])[1]?.status === 304,
  },
  "streaming (SSE)": {
    run: (port) => call(port, "/sse"),
    works: (r) =>
      (r as Answer).body === "id: 0\ndata: tick 0\n\nid: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\n" &&
      (r as Answer).headers["content-type"] === "text/event-stream",
  },
  "request.signal aborts on disconnect": { run: abortSeen, works: (r) => r === true },
  [`${MB} MB upload`]: {
    run: (port) => call(port, "/upload", { method: "POST", body: new Uint8Array(MB << 20) }),
    works: (r) => (r as Answer).body === String(MB << 20),
  },
  [`${MB} MB download`]: {
    run: (port) => downloaded(port, `/download?mb=${MB}`),
    works: (r) => r === MB << 20,
  },
  "client address (the framework's helper)": {
    run: (port) => call(port, "/ip"),
    works: (r) => (r as Answer).body === "127.0.0.1",
  },
  "WebSockets": { run: wsEcho, works: (r, fw) => r === `${fw}: hi` },
};

/** What fails on the bare runtime too, by framework and runtime, and why. */
const KNOWN: Record<string, Record<string, string>> = {
  "elysia bun": {
    "client address (the framework's helper)": "Elysia's `server` is set only by its own listen()",
    "WebSockets": "Elysia's ws() needs the server its own listen() starts",
  },
  "elysia deno": {
    "redirects": "Elysia's redirect() answers 500 on Deno",
    "ETag and 304": "Elysia gives its 304 a body, which Deno refuses: 500",
    "client address (the framework's helper)": "Elysia's `server` is set only by its own listen()",
    "WebSockets": "Elysia's web-standard adapter has no WebSocket",
  },
  "itty bun": {
    "HEAD": "itty-router routes HEAD to no GET route: 404",
    "client address (the framework's helper)":
      "itty hands routes a Proxy of the request, which requestIP() refuses",
    "WebSockets": "itty hands routes a Proxy of the request, which upgrade() refuses",
  },
  "itty deno": { "HEAD": "itty-router routes HEAD to no GET route: 404" },
};

async function startBare(fw: string): Promise<number> {
  const port = await freePort();
  const [cmd, ...args] = cliCommand("tests/apps/frameworks/bare.ts");
  const child = spawn(cmd as string, [...args, `tests/apps/frameworks/${fw}.ts`, String(port)], {
    cwd: ROOT,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  bare.add(child);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => out += d);
  child.stderr?.setEncoding("utf8").on("data", (d: string) => out += d);
  await waitFor(`the bare ${RUNTIME} server of ${fw}: ${out}`, () => {
    if (child.exitCode !== null) throw new Error(`bare ${fw} exited: ${out}`);
    return out.includes("listening");
  }, 30_000);
  return port;
}

describe(`frameworks under corral and under bare ${RUNTIME}`, () => {
  for (const fw of ["hono", "elysia", "itty"]) {
    test(`${fw}: every answer is the bare runtime's`, T, async () => {
      const port = await freePort();
      // --keep-alive 1: the event stream's pause is longer, and must not be taken for an idle connection.
      const args = [
        "-w",
        "1",
        "-b",
        `127.0.0.1:${port}`,
        "--keep-alive",
        "1",
        `tests/apps/frameworks/${fw}.ts`,
      ];
      const c = new Corral(args);
      await c.ready(30_000);
      const barePort = await startBare(fw);
      const known = KNOWN[`${fw} ${RUNTIME}`] ?? {};
      const rows: string[] = [];
      for (const [name, check] of Object.entries(CHECKS)) {
        const [ours, theirs] = [await check.run(port), await check.run(barePort)];
        assert.deepEqual(ours, theirs, `${fw} ${name}: corral answered otherwise than bare ${RUNTIME}`);
        const works = check.works(ours, fw);
        rows.push(`${works ? "yes" : "no "} ${name}${works ? "" : `: ${known[name]}`}`);
        assert.equal(works, !(name in known), `${fw} ${name} on ${RUNTIME}: ${JSON.stringify(ours)}`);
      }
      process.stderr.write(`${fw} on ${RUNTIME}, corral = bare:\n  ${rows.join("\n  ")}\n`);
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
    });
  }
});

describe(`frameworks behind a trusted proxy, under corral on ${RUNTIME}`, () => {
  for (const fw of ["hono", "elysia", "itty"]) {
    test(
      `${fw}: its routes see the proxy's scheme and host, its clones too; a direct request its own`,
      T,
      async () => {
        const port = await freePort();
        const c = new Corral(["-w", "1", "-b", `127.0.0.1:${port}`, `tests/apps/frameworks/${fw}.ts`]);
        await c.ready(30_000);
        const proxied = {
          "x-forwarded-for": "203.0.113.7",
          "x-forwarded-proto": "https",
          "x-forwarded-host": "shop.example",
        };
        // Twice each, in turn: a request given a URL leaves the next one's alone, and the other way round.
        for (let round = 0; round < 2; round++) {
          const via = JSON.parse((await call(port, "/where/42?q=z", { headers: proxied })).body);
          const url = "https://shop.example/where/42?q=z";
          assert.deepEqual(via, { url, id: "42", q: "z", clone: url }, `${fw}, behind the proxy`);
          const direct = JSON.parse((await call(port, "/where/7?q=y")).body);
          const own = `http://127.0.0.1:${port}/where/7?q=y`;
          assert.deepEqual(direct, { url: own, id: "7", q: "y", clone: own }, `${fw}, direct`);
        }
        c.kill("SIGTERM");
        assert.equal((await c.exit()).code, 0);
      },
    );
  }
});
