/** `deno run -A https://host/path/cli.ts app.ts`: corral runs from its raw files, with no import map. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { homedir, tmpdir } from "node:os";
import { extname, join, normalize, relative } from "node:path";
import process from "node:process";
import { findTool } from "../../scripts/compile.ts";
import { alive, freePort, IS_BUN, ROOT, RUNTIME, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

const work = mkdtempSync(join(tmpdir(), "corral-url-"));
const cleanup: (() => void)[] = [];
after(() => {
  for (const fn of cleanup.reverse()) fn();
  rmSync(work, { recursive: true, force: true });
});
const T = { timeout: 120_000 };

const _TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
};

/** Serves the checkout's files over loopback HTTP, as a raw-file host would. */
function serveCheckout(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(join(ROOT, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    if (relative(ROOT, path).startsWith("..") || !existsSync(path) || path.includes("node_modules")) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(path);
      res.writeHead(200, { "content-type": _TYPES[extname(path)] ?? "text/plain" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** The modules cli.ts can load, outside the runtime seam's LogTape module. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.ts$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

describe("running from a URL", () => {
  test("no module names a bare specifier at run time, except the runtime seam's LogTape import", () => {
    const offenders: string[] = [];
    for (const file of [join(ROOT, "cli.ts"), join(ROOT, "mod.ts"), ...sources(join(ROOT, "lib"))]) {
      if (file.endsWith(join("lib", "runtime", "logtape.ts"))) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\b)[^;]*?from\s+["']([^"']+)["']/gm)) {
        const spec = m[2] as string;
        if (!/^(\.{1,2}\/|node:|npm:|https?:|file:)/.test(spec)) {
          offenders.push(`${relative(ROOT, file)}: ${spec}`);
        }
      }
    }
    assert.deepEqual(offenders, [], "import these through lib/runtime/logtape.ts (or another seam module)");
  });

  test("the npm: LogTape version is the one package.json and deno.json pin", () => {
    const seam = readFileSync(join(ROOT, "lib", "runtime", "logtape.ts"), "utf8");
    const pinned = /npm:@logtape\/logtape@([\d.]+)/.exec(seam)?.[1];
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
    assert.equal(pinned, pkg.dependencies["@logtape/logtape"]);
    assert.equal(deno.imports["@logtape/logtape"], `npm:@logtape/logtape@${pinned}`);
  });

  let deno: string | null = IS_BUN ? null : process.execPath;
  try {
    deno ??= findTool("deno");
  } catch { /* skipped below */ }
  test(`deno run -A http://127.0.0.1:PORT/cli.ts serves an app, workers included (tests on ${RUNTIME})`, {
    ...T,
    skip: deno ? false : "no deno executable on PATH or in node_modules/.bin (run npm install)",
  }, async () => {
    const server = await serveCheckout(await freePort());
    cleanup.push(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // A fresh DENO_DIR, as on a machine that never saw corral; its npm cache
    // is the usual one, so LogTape comes from the npm registry at most once.
    const denoDir = join(work, "deno_dir");
    const usual = process.env.DENO_DIR ?? join(homedir(), ".cache", "deno");
    mkdirSync(denoDir);
    if (existsSync(join(usual, "npm"))) symlinkSync(join(usual, "npm"), join(denoDir, "npm"));
    const cwd = mkdtempSync(join(work, "project-"));
    const port = await freePort();
    const child = spawn(deno as string, [
      "run",
      "-A",
      `${base}/cli.ts`,
      "-w",
      "2",
      "-b",
      `127.0.0.1:${port}`,
      join(ROOT, "tests", "apps", "ship_hello.ts"),
    ], {
      cwd, // No deno.json here, nor above: no import map.
      env: { ...process.env, DENO_DIR: denoDir, NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    cleanup.push(() => child.exitCode === null && child.kill("SIGKILL"));
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr += d);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(`corral from ${base} to be ready:\n${stderr}`, () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${stderr}`);
      return /Ready: 2 workers serving/.test(stderr);
    }, 90_000);
    const workers = [...stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
    for (const pid of workers) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      assert.ok(cmdline.includes(`${base}/cli.ts`), `worker ${pid} runs ${cmdline.join(" ")}`);
    }
    const body = (await get(`http://127.0.0.1:${port}/`)).body;
    assert.ok(workers.map((pid) => `hello ${pid}`).includes(body), body);
    process.kill(child.pid as number, "SIGTERM");
    assert.equal(await exited, 0, stderr);
    await waitFor("the workers to exit", () => workers.every((pid) => !alive(pid)), 5000);
  });
});
