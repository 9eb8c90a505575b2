/**
 * The `corral` command: `corral [OPTIONS] APP_MODULE[:NAME]`.
 * @module
 */
import { cpus } from "node:os";
import process from "node:process";
import { Arbiter, WORKER_FLAG } from "./lib/arbiter.ts";
import { helpText, parseCommandLine } from "./lib/config.ts";
import { CorralError, ExitCode } from "./lib/errors.ts";
import { setupLogging } from "./lib/log.ts";
import { runtime } from "./lib/runtime/mod.ts";
import { VERSION } from "./lib/version.ts";
import { runWorker } from "./lib/worker.ts";

function _print(fd: "stdout" | "stderr", text: string): void {
  process[fd].write(text.endsWith("\n") ? text : text + "\n");
}

/** Runs the command line `args`; resolves with the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  if (args[0] === WORKER_FLAG) {
    await runWorker(runtime);
    return ExitCode.OK;
  }
  try {
    const invocation = parseCommandLine([...args], {
      env: (name) => process.env[name],
      cpuCount: () => cpus().length,
      cwd: process.cwd(),
    });
    if (invocation.action === "help") {
      _print("stdout", helpText());
      return ExitCode.OK;
    }
    if (invocation.action === "version") {
      _print("stdout", `corral ${VERSION} (${runtime.name} ${runtime.version})`);
      return ExitCode.OK;
    }
    setupLogging(invocation.settings.logLevel);
    return await new Arbiter({ runtime, settings: invocation.settings, app: invocation.app }).run();
  } catch (err) {
    if (!(err instanceof CorralError)) throw err;
    _print("stderr", `corral: error: ${err.message}`);
    if (err.exitCode === ExitCode.USAGE) _print("stderr", "Try 'corral --help' for more information.");
    return err.exitCode;
  }
}

if (import.meta.main) runtime.exit(await main(runtime.args));
