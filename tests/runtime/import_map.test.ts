/** A Deno config's import map as Bun's loader reads it (lib/runtime/_import_map.ts, bun_deno_config.ts). */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { findDenoConfig, mapSpecifier, npmPackagePath, parseJsonc } from "../../lib/runtime/_import_map.ts";
import { withOwnImportMeta } from "../../lib/runtime/bun_deno_config.ts";
import { RUNTIME } from "../_helpers/corral.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-import-map-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe(`a Deno config's import map (${RUNTIME})`, () => {
  test("deno.jsonc: comments and trailing commas go, strings keep their // and ,}", () => {
    const text = `{
      // a comment
      "imports": { "a": "https://x.test/a//b", /* another */ "b": "c,}", },
    }`;
    assert.deepEqual(parseJsonc(text), { imports: { a: "https://x.test/a//b", b: "c,}" } });
    assert.throws(() => parseJsonc("{ nope }"), SyntaxError);
  });

  test("the nearest config above the app: its imports win over its importMap file's; relative targets are files", () => {
    const root = join(dir, "project");
    mkdirSync(join(root, "src", "deep"), { recursive: true });
    writeFileSync(
      join(root, "map.json"),
      JSON.stringify({ imports: { "x": "./from-map.ts", "y": "npm:y@1" } }),
    );
    writeFileSync(
      join(root, "deno.jsonc"),
      `{ "importMap": "./map.json", "imports": { "y": "npm:y@2", "@lib/": "./lib/" } }`,
    );
    const map = findDenoConfig(join(root, "src", "deep"));
    assert.equal(map?.path, join(root, "deno.jsonc"));
    assert.deepEqual(map?.imports, {
      x: pathToFileURL(join(root, "from-map.ts")).href,
      y: "npm:y@2",
      "@lib/": pathToFileURL(join(root, "lib")).href + "/",
    });
    assert.equal(findDenoConfig("/"), null);
  });

  test("a config that is not JSON names itself", () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "deno.json"), "{ imports: ");
    assert.throws(() => findDenoConfig(bad), (e: Error) => e.message.includes(join(bad, "deno.json")));
  });

  test("exact keys first, else the longest prefix ending in /", () => {
    const map = {
      path: "/p/deno.json",
      imports: { "a/": "npm:a@1/", "a/b/": "file:///p/b/", "a": "npm:a@1" },
    };
    assert.equal(mapSpecifier(map, "a"), "npm:a@1");
    assert.equal(mapSpecifier(map, "a/x.js"), "npm:a@1/x.js");
    assert.equal(mapSpecifier(map, "a/b/c.ts"), "file:///p/b/c.ts");
    assert.equal(mapSpecifier(map, "other"), undefined);
  });

  test("npm: specifiers name a package path without their version", () => {
    assert.equal(npmPackagePath("npm:hono@^4.1"), "hono");
    assert.equal(npmPackagePath("npm:/hono"), "hono");
    assert.equal(npmPackagePath("npm:@scope/pkg@1.2.3/sub/path.js"), "@scope/pkg/sub/path.js");
    assert.equal(npmPackagePath("npm:@scope/pkg"), "@scope/pkg");
    assert.equal(npmPackagePath("jsr:@std/path"), null);
  });

  test("a bundled module keeps its own import.meta values, wherever the expression was", () => {
    const path = join(dir, "m.ts");
    const code =
      `#!/usr/bin/env bun\nconst u = import.meta.url; // import.meta.dirname\nconst s = "import.meta.filename";`;
    const out = withOwnImportMeta(code, path);
    assert.ok(out.startsWith("#!/usr/bin/env bun\nconst __corral_import_meta = "));
    const run = new Function(`${out.replace(/^#!.*\n/, "")}; return [u, s];`);
    const [u, s] = run() as [string, string];
    assert.equal(u, pathToFileURL(path).href);
    assert.equal(s, "__corral_import_meta.filename", "a string stays a valid string");
    assert.equal(withOwnImportMeta("export const a = 1;", path), "export const a = 1;");
  });
});
