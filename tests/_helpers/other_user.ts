/**
 * Runs code as another local user (`nobody`), with the runtime running the
 * tests: what another user of the host could do to a corral run by root.
 * Needs root and `setpriv` (util-linux); tests skip, saying why, without.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { IS_BUN } from "./corral.ts";

/** Debian's and most distributions' nobody / nogroup. */
const NOBODY = "65534";

/** Why tests as another user cannot run here, or false when they can. */
export const OTHER_USER_SKIP: string | false = (() => {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) {
    return "not root: cannot act as another user (run the tests as root to cover it)";
  }
  if (spawnSync("setpriv", ["--version"]).status !== 0) return "setpriv (util-linux) not found";
  return false;
})();

/** A program running as another user. */
export interface OtherUser {
  /** What it printed so far. */
  stdout(): string;
  /** Resolves once it exited (or was killed after its time). */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Starts `code` (an ES module using node: built-ins, which prints its
 * results on stdout) as uid and gid 65534; kills it after `timeoutMs`.
 */
export function asOtherUser(code: string, timeoutMs = 20_000): OtherUser {
  // Deno caches compiled code under DENO_DIR: one nobody can write.
  const home = mkdtempSync(join(tmpdir(), "corral-nobody-"));
  chmodSync(home, 0o777);
  const run = IS_BUN ? ["-e", code] : ["eval", code];
  const child = spawn(
    "setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, ...run],
    { env: { ...process.env, HOME: home, DENO_DIR: home }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => stdout += d);
  child.stderr.setEncoding("utf8").on("data", (d: string) => stderr += d);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve({ code: exitCode, stdout, stderr });
    });
  });
  return { stdout: () => stdout, done };
}
