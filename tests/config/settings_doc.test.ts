/** docs/settings.md is generated from the settings table and must not drift from it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { formattedSettingsMarkdown, SETTINGS_DOC, settingsMarkdown } from "../../scripts/gen_settings_doc.ts";
import { HOOK_NAMES } from "../../lib/config/hooks.ts";
import { longFlag, SETTINGS } from "../../lib/config/settings.ts";

describe("docs/settings.md", () => {
  test("is what scripts/gen_settings_doc.ts generates from the table (run it after changing a setting)", () => {
    const current = readFileSync(SETTINGS_DOC, "utf8");
    assert.ok(
      current === formattedSettingsMarkdown(),
      "docs/settings.md is stale: run `deno run -A scripts/gen_settings_doc.ts` and commit the result",
    );
  });

  test("documents every flag, config key, environment variable and hook", () => {
    const doc = settingsMarkdown();
    for (const s of SETTINGS) {
      assert.ok(doc.includes(longFlag(s)), longFlag(s));
      if (!s.cliOnly) assert.ok(doc.includes(`config key \`${s.name}\``), s.name);
      if (s.env) assert.ok(doc.includes(`environment \`${s.env}\``), s.env);
    }
    for (const hook of HOOK_NAMES) assert.match(doc, new RegExp(`- \`${hook}\`: \\w`), hook);
  });
});
