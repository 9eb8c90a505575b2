/**
 * The ways a user starts corral, for the launcher matrix
 * (tests/integration/launchers.test.ts): `deno run cli.ts`, `bun cli.ts`,
 * the Bun single binary (scripts/compile.ts) and `deno run` from a URL.
 * One function prepares any of them; a launcher that cannot run here says
 * why instead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { homedir } from "node:os";
import { extname, join, normalize, relative } from "node:path";
import process from "node:process";
import { findTool } from "../../scripts/compile.ts";
import { cliCommand, IS_BUN, ROOT } from "./corral.ts";

/** The launchers, by the name the tests show. */
export const LAUNCHERS = ["deno run cli.ts", "bun cli.ts", "the Bun binary", "deno run from a URL"] as const;
/** One of {@link LAUNCHERS}. */
export type LauncherName = typeof LAUNCHERS[number];

/**
 * The launchers each test runtime runs, so that `npm test` (deno test,
 * then bun test) runs each once: a runtime runs its own two. The Bun
 * binary is built with bun; the URL launcher is deno's. CORRAL_TEST_LAUNCHERS
 * ("all", or names joined by commas) runs others too.
 */
export function launchersOfThisRuntime(): LauncherName[] {
  const wanted = process.env.CORRAL_TEST_LAUNCHERS?.trim();
  if (wanted === "all") return [...LAUNCHERS];
  if (wanted) {
    const names = wanted.split(",").map((n) => n.trim());
    const unknown = names.filter((n) => !(LAUNCHERS as readonly string[]).includes(n));
    if (unknown.length) {
      throw new TypeError(
        `CORRAL_TEST_LAUNCHERS: unknown launcher ${JSON.stringify(unknown[0])}: expected "all" or some of ${
          LAUNCHERS.join(", ")
        }`,
      );
    }
    return names as LauncherName[];
  }
  return IS_BUN ? ["bun cli.ts", "the Bun binary"] : ["deno run cli.ts", "deno run from a URL"];
}

/** A launcher ready to start corral. */
export interface Launcher {
  readonly name: LauncherName;
  /** The command before corral's own arguments. */
  readonly command: readonly string[];
  /**
   * The command for an app with a Deno config of its own: Deno takes it as
   * `--config` (it looks beside corral's cli.ts, else); Bun finds it itself.
   */
  withDenoConfig(path: string): readonly string[];
  /** Environment it needs (a fresh DENO_DIR for the URL). */
  readonly env: Readonly<Record<string, string>>;
  /** Whether a worker process, by its /proc cmdline and exe, was started the same way. */
  isOwnWorker(pid: number): boolean;
  /** Stops what it started (the URL launcher's file server). */
  close(): void;
}

function _tool(name: "bun" | "deno"): string | null {
  try {
    return findTool(name);
  } catch {
    return null;
  }
}

function _cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
}

const _TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
};

/** Serves the checkout's files over loopback HTTP, as a raw-file host would (no node_modules). */
export function serveCheckout(): Promise<Server> {
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
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/**
 * A fresh DENO_DIR in `scratch`, as on a machine that never ran corral:
 * remote modules are downloaded again. Its npm cache is the usual one, so
 * LogTape comes from the npm registry at most once.
 */
export function freshDenoDir(scratch: string): string {
  const dir = join(scratch, "deno_dir");
  mkdirSync(dir, { recursive: true });
  const usual = process.env.DENO_DIR ?? join(homedir(), ".cache", "deno");
  if (existsSync(join(usual, "npm")) && !existsSync(join(dir, "npm"))) {
    symlinkSync(join(usual, "npm"), join(dir, "npm"));
  }
  return dir;
}

/** Builds the Bun binary with scripts/compile.ts into `scratch`; throws with the compiler's output. */
export function buildBunBinary(scratch: string): string {
  const binary = join(scratch, "corral");
  const [cmd, ...rest] = cliCommand("scripts/compile.ts");
  const built = spawnSync(cmd as string, [...rest, "--runtime", "bun", "--output", binary], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 110_000,
  });
  if (built.status !== 0) throw new Error(`scripts/compile.ts --runtime bun failed:\n${built.stderr}`);
  return binary;
}

/** Why a launcher cannot run on this machine, or null when it can. */
export function launcherSkip(name: LauncherName): string | null {
  const tool = name.startsWith("deno") ? "deno" : "bun";
  if ((tool === "bun") === IS_BUN || _tool(tool)) return null;
  return `no ${tool} executable on PATH or in node_modules/.bin (run npm install)`;
}

/**
 * Prepares a launcher, with `scratch` for what it builds or caches (check
 * {@link launcherSkip} first).
 */
export async function prepareLauncher(name: LauncherName, scratch: string): Promise<Launcher> {
  const cli = join(ROOT, "cli.ts");
  const none = { isOwnWorker: () => false, close: () => {} };
  const need = (tool: "bun" | "deno") => {
    const path = (tool === "bun") === IS_BUN ? process.execPath : _tool(tool);
    if (!path) throw new Error(`${name}: ${launcherSkip(name)}`);
    return path;
  };
  if (name === "deno run cli.ts" || name === "deno run from a URL") {
    const deno = need("deno");
    if (name === "deno run cli.ts") {
      return {
        ...none,
        name,
        command: [deno, "run", "-A", cli],
        withDenoConfig: (config) => [deno, "run", "-A", "--config", config, cli],
        env: {},
        isOwnWorker: (pid) => _cmdline(pid).includes(cli),
      };
    }
    const server = await serveCheckout();
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/cli.ts`;
    return {
      name,
      // As docs/deploy.md says for an app with a node_modules folder.
      command: [deno, "run", "-A", "--node-modules-dir=manual", url],
      withDenoConfig: (config) => [deno, "run", "-A", "--node-modules-dir=manual", "--config", config, url],
      env: { DENO_DIR: freshDenoDir(scratch) },
      isOwnWorker: (pid) => _cmdline(pid).includes(url),
      close: () => server.close(),
    };
  }
  const bun = need("bun");
  if (name === "bun cli.ts") {
    return {
      ...none,
      name,
      command: [bun, cli],
      withDenoConfig: () => [bun, cli],
      env: {},
      isOwnWorker: (pid) => _cmdline(pid).includes(cli),
    };
  }
  const binary = buildBunBinary(scratch);
  return {
    ...none,
    name,
    command: [binary],
    withDenoConfig: () => [binary],
    env: {},
    // The workers are the binary itself, not a runtime running a script.
    isOwnWorker: (pid) => _exe(pid) === binary,
  };
}

function _exe(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}
