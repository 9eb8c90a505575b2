/**
 * LogTape, imported the way each runtime can. Deno takes the `npm:`
 * specifier, which needs no import map, so corral runs from a URL
 * (`deno run -A https://host/corral/cli.ts app.ts`), where no deno.json
 * applies; Bun cannot import `npm:` and takes the bare name from
 * node_modules. An import that is never evaluated costs neither runtime
 * anything (`bun build` needs `--external npm:*`, which
 * scripts/compile.ts passes). Keep the version that of package.json.
 * @module
 */
import type * as LogTape from "@logtape/logtape";
import { runtime } from "./mod.ts";

export type { Logger, LogLevel, LogRecord, Sink } from "@logtape/logtape";

const _logtape: typeof LogTape = runtime.name === "bun"
  ? await import("@logtape/logtape")
  // deno-lint-ignore no-import-prefix -- from a URL there is no import map to name it in
  : await import("npm:@logtape/logtape@2.4.2");

/** LogTape's functions corral uses. */
export const { configureSync, getLogger, resetSync } = _logtape;
