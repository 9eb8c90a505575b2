/** What the command line's unit tests share: parsing under a made-up environment. */
import assert from "node:assert/strict";
import { type Environment, type Invocation, parseCommandLine } from "../../lib/config/config.ts";
import { UsageError } from "../../lib/errors.ts";
import type { Settings } from "../../lib/config/settings.ts";

export type Serve = Extract<Invocation, { action: "serve" }>;

/** An environment with `vars` and `cpus` cores, in /srv. */
export function environment(vars: Record<string, string> = {}, cpus = 4): Environment {
  return { env: (name) => vars[name], cpuCount: () => cpus, cwd: "/srv" };
}

/** Parses a command line that must ask to serve. */
export function serve(args: string[], vars: Record<string, string> = {}, cpus = 4): Serve {
  const invocation = parseCommandLine(args, environment(vars, cpus));
  assert.equal(invocation.action, "serve");
  return invocation as Serve;
}

/** The settings a command line that must serve resolves to. */
export function settings(args: string[], vars: Record<string, string> = {}): Settings {
  return serve(args, vars).settings;
}

/** Parses a command line that must be refused; returns the error. */
export function usageError(args: string[], vars: Record<string, string> = {}): UsageError {
  try {
    parseCommandLine(args, environment(vars));
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    assert.equal(err.exitCode, 2);
    return err;
  }
  assert.fail(`expected a UsageError for: ${args.join(" ")}`);
}
