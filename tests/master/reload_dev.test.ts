/** --reload: a saved file replaces the workers, as HUP does, and names itself in the log. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isIgnored, Reloader } from "../../lib/master/reloader.ts";
import { alive, Corral, freePort, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
after(stopAll);
const T = { timeout: 30_000 };

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "corral-reload-"));
  dirs.push(dir);
  return dir;
}

function app(greeting: string): string {
  return `export default { fetch: () => new Response(${JSON.stringify(greeting)}) };\n`;
}

describe("isIgnored", () => {
  test("skips dependencies, dot-folders, dot-files and editors' temporary files", () => {
    for (
      const path of [
        "node_modules/x/index.js",
        ".git/HEAD",
        "a/.cache/b.ts",
        ".env",
        "app.ts~",
        ".app.ts.swp",
        "4913",
      ]
    ) {
      assert.ok(isIgnored(path), path);
    }
    for (const path of ["app.ts", "src/routes/index.tsx", "templates/page.html", "config.json"]) {
      assert.ok(!isIgnored(path), path);
    }
  });
});

describe(`Reloader (${RUNTIME})`, () => {
  test("reports a burst of saves once, with every changed file, and not the ignored ones", T, async () => {
    const dir = folder();
    mkdirSync(join(dir, "src"));
    mkdirSync(join(dir, "node_modules"));
    writeFileSync(join(dir, "app.ts"), app("v1"));
    const bursts: string[][] = [];
    const reloader = Reloader.start({
      roots: [dir],
      debounceMs: 150,
      onChange: (paths) => bursts.push(paths),
    });
    try {
      assert.deepEqual(reloader.folders.sort(), [dir, join(dir, "src")], "node_modules is not watched");
      writeFileSync(join(dir, "node_modules", "dep.js"), "x");
      writeFileSync(join(dir, ".app.ts.swp"), "x");
      writeFileSync(join(dir, "app.ts"), app("v2"));
      writeFileSync(join(dir, "src", "util.ts"), "export const x = 1;");
      await waitFor("one burst of changes", () => bursts.length > 0, 5000);
      await new Promise((r) => setTimeout(r, 400)); // Nothing more may follow from the same burst.
      assert.equal(bursts.length, 1, JSON.stringify(bursts));
      assert.deepEqual(bursts[0], [join(dir, "app.ts"), join(dir, "src", "util.ts")]);
    } finally {
      reloader.close();
    }
  });

  test("watches a folder created after the start, and a single file outside the roots", T, async () => {
    const dir = folder();
    const other = folder();
    const config = join(other, "corral.config.json");
    writeFileSync(config, "{}");
    writeFileSync(join(other, "unrelated.txt"), "x");
    const seen: string[] = [];
    const reloader = Reloader.start({
      roots: [dir],
      files: [config],
      debounceMs: 50,
      onChange: (paths) => seen.push(...paths),
    });
    try {
      mkdirSync(join(dir, "new"));
      await waitFor("the new folder to be watched", () => reloader.folders.includes(join(dir, "new")), 5000);
      writeFileSync(join(dir, "new", "route.ts"), "export {};");
      await waitFor("the file in the new folder", () => seen.includes(join(dir, "new", "route.ts")), 5000);
      writeFileSync(join(other, "unrelated.txt"), "y");
      writeFileSync(config, '{ "workers": 2 }');
      await waitFor("the config file", () => seen.includes(config), 5000);
      assert.ok(!seen.includes(join(other, "unrelated.txt")));
    } finally {
      reloader.close();
    }
  });
});

describe(`corral --reload (${RUNTIME})`, () => {
  test("saving the app replaces every worker, logs the file, and serves the new code", T, async () => {
    const dir = folder();
    writeFileSync(join(dir, "app.ts"), app("v1"));
    const port = await freePort();
    const c = new Corral(["--reload", "-w", "2", "-b", `127.0.0.1:${port}`, join(dir, "app.ts")]);
    await c.ready();
    await c.waitForLog(/Watching 1 folder\(s\) for changes \(--reload\)/);
    const before = c.workerPids();
    assert.equal((await get(`http://127.0.0.1:${port}/`)).body, "v1");
    writeFileSync(join(dir, "app.ts"), app("v2"));
    await c.waitForLog(new RegExp(`Reloading: ${join(dir, "app.ts")} changed`));
    await c.waitForLog(/Reloaded: 2 new workers serving/);
    // The old generation drains and exits; HUP's own tests hold it to zero failed requests.
    await waitFor("the old workers to exit", () => before.every((pid) => !alive(pid)));
    assert.equal(c.workerPids().length, 4, "a new generation of workers");
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) bodies.add((await get(`http://127.0.0.1:${port}/`)).body);
    assert.deepEqual([...bodies], ["v2"], "only the new code serves");
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });
});
