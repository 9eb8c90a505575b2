/**
 * corral's programmatic API: start a pre-fork server from code, with the
 * same settings as the command line.
 *
 * ```ts
 * import { serve } from "./mod.ts";
 * await serve({ app: { fetch: () => new Response("hi") }, workers: 4, bind: "0.0.0.0:8000" });
 * ```
 *
 * Like Node's cluster module, the workers run your script again: code before
 * `serve()` runs in the master and in every worker; `serve()` in a worker
 * serves and never returns.
 * @module
 */
import type { App } from "./lib/worker/app_loader.ts";
import type { AppSpec } from "./lib/config/config.ts";
import { CorralError, type ExitCode } from "./lib/errors.ts";
import { WORKER_FLAG } from "./lib/ipc.ts";
import { logger } from "./lib/log.ts";
import { runtime } from "./lib/runtime/mod.ts";
import { HOOK_NAMES, type Hooks, pickHooks } from "./lib/config/hooks.ts";

export type { Address, TcpAddress, UnixAddress } from "./lib/address.ts";
export type { App } from "./lib/worker/app_loader.ts";
export type { AppSpec } from "./lib/config/config.ts";
export { AppLoadError, BootError, CorralError, ExitCode, UsageError } from "./lib/errors.ts";
export type { Hooks, WorkerExitInfo, WorkerInfo } from "./lib/config/hooks.ts";
export type { Handler, RemoteAddr, ServeInfo } from "./lib/runtime/types.ts";
export type { LogLevelName, Settings } from "./lib/config/settings.ts";
export { VERSION } from "./lib/version.ts";

/**
 * Options of {@link serve}: the app, and any setting by the camelCase name
 * of its long flag, as you would write it on the command line.
 */
export interface ServeOptions extends Hooks {
  /** A handler (`{ fetch }` or a function), or a module path/URL as on the command line. */
  app: App | string;
  workers?: number | "auto";
  bind?: string | string[];
  chdir?: string;
  certfile?: string;
  keyfile?: string;
  gracefulTimeout?: number;
  timeout?: number;
  maxRequests?: number;
  maxRequestsJitter?: number;
  maxWorkerMemory?: number;
  /** The pid file (`-p/--pid`). */
  pidfile?: string;
  errorLogfile?: string;
  logFormat?: "text" | "json";
  accessLogfile?: string;
  accessLogFormat?: string;
  limitRequestLine?: number;
  limitRequestFields?: number;
  limitRequestFieldSize?: number;
  limitRequestBody?: number | string;
  keepAlive?: number;
  requestTimeout?: number;
  maxConcurrency?: number;
  forwardedAllowIps?: string | string[];
  metricsBind?: string;
  controlSocket?: string;
  logLevel?: "debug" | "info" | "warning" | "error" | "critical";
}

/** True in a worker process started by corral. */
export function isWorker(): boolean {
  return runtime.args.includes(WORKER_FLAG);
}

/**
 * Starts a master with its workers (or, in a worker, serves) and resolves
 * with the exit code once the master has stopped. Settings come from the
 * environment (`PORT`, `WEB_CONCURRENCY`), then `options`.
 *
 * @example
 * ```ts
 * const code = await serve({ app: "./app.ts", workers: 2 });
 * ```
 * @throws {UsageError} for an invalid option, naming it.
 */
export async function serve(options: ServeOptions): Promise<ExitCode> {
  const { app, ...rest } = options;
  const hooks = pickHooks(rest as Record<string, unknown>, "serve() options");
  if (isWorker()) {
    // A worker loads its own side only: the master's modules and the settings table stay out of it.
    const { runWorker } = await import("./lib/worker/main.ts");
    await runWorker(runtime, typeof app === "string" ? undefined : app, hooks);
    return await new Promise<never>(() => {});
  }
  const [
    { cpus },
    { default: process },
    { parseAppSpec, SettingsBuilder },
    { Arbiter },
    { setupMasterLogging },
  ] = await Promise.all([
    import("node:os"),
    import("node:process"),
    import("./lib/config/config.ts"),
    import("./lib/master/arbiter.ts"),
    import("./lib/master/logging.ts"),
  ]);
  const environment = {
    env: (name: string) => process.env[name],
    cpuCount: () => cpus().length,
    cwd: process.cwd(),
  };
  const settings = new SettingsBuilder(environment)
    .applyEnv(environment.env)
    .applyObject(rest as Record<string, unknown>, "serve() options", HOOK_NAMES)
    .finish();
  const spec: AppSpec = typeof app === "string"
    ? parseAppSpec(app)
    : { module: "(serve() app)", exportName: "default" };
  setupMasterLogging(settings);
  try {
    return await new Arbiter({ runtime, settings, app: spec, hooks }).run();
  } catch (err) {
    if (!(err instanceof CorralError)) throw err;
    logger("arbiter").error("{message}", { message: err.message });
    return err.exitCode;
  }
}
