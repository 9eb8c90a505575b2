/**
 * `deno run -A https://host/path/cli.ts app.ts`: corral runs from its raw
 * files, with no import map. The launcher matrix (launchers.test.ts) serves
 * from a URL; these check what makes it possible.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../_helpers/corral.ts";

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
});
