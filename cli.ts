/**
 * The `corral` command: `corral [OPTIONS] APP_MODULE[:NAME]`. The same
 * entry runs the master and, with {@link WORKER_FLAG}, each worker: each
 * loads only its own side (lib/master/command.ts, lib/worker/main.ts), so
 * that a worker carries none of the master's modules.
 * @module
 */
import { WORKER_FLAG } from "./lib/ipc.ts";
import { ExitCode } from "./lib/errors.ts";
import { runtime } from "./lib/runtime/mod.ts";
import type { Builtins } from "./lib/master/command.ts";

export type { Builtins } from "./lib/master/command.ts";

/**
 * Runs the command line `args`; resolves with the exit code. `builtins`
 * are the modules a compiled binary carries.
 *
 * @example
 * ```ts
 * const code = await main(["-w", "2", "app.ts"]);
 * ```
 */
export async function main(args: readonly string[], builtins: Builtins = {}): Promise<number> {
  if (args[0] === WORKER_FLAG) {
    // A worker loads the config file's hooks from the settings the master sends.
    if (builtins.config) (await import("./lib/config/config_file.ts")).registerBuiltinConfig(builtins.config);
    const [{ runWorker }, { builtinApp }] = await Promise.all([
      import("./lib/worker/main.ts"),
      import("./lib/worker/app_loader.ts"),
    ]);
    await runWorker(runtime, builtins.app ? builtinApp(builtins.app) : undefined);
    return ExitCode.OK;
  }
  const { runCommand } = await import("./lib/master/command.ts");
  return await runCommand(args, builtins);
}

if (import.meta.main) runtime.exit(await main(runtime.args));
