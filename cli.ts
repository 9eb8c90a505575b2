/**
 * The `corral` command: `corral [OPTIONS] APP_MODULE[:NAME]`.
 * @module
 */
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { type App, loadApp, resolveModule, toHandler } from "./lib/worker/app_loader.ts";
import { Arbiter, WORKER_FLAG } from "./lib/master/arbiter.ts";
import { runCtl } from "./lib/ctl.ts";
import { type AppSpec, type Environment, formatSettings, helpText } from "./lib/config/config.ts";
import {
  type BuiltinModule,
  loadInvocation,
  type LoadOptions,
  registerBuiltinConfig,
} from "./lib/config/config_file.ts";
import { AppLoadError, CorralError, describeError, ExitCode } from "./lib/errors.ts";
import type { Hooks } from "./lib/config/hooks.ts";
import { logger, setupLogging } from "./lib/log.ts";
import { SystemdNotifier } from "./lib/master/notify.ts";
import { Reloader, reloadMaster } from "./lib/master/reloader.ts";
import { runtime } from "./lib/runtime/mod.ts";
import type { Settings } from "./lib/config/settings.ts";
import { readTls } from "./lib/tls.ts";
import { VERSION } from "./lib/version.ts";
import { runWorker } from "./lib/worker/main.ts";

/**
 * Modules compiled into a binary by `scripts/compile.ts --runtime deno`: a
 * compiled Deno binary cannot import files it was not built with.
 */
export interface Builtins {
  /** The app's module and the export to serve; the binary then takes no APP_MODULE. */
  readonly app?: BuiltinModule & { readonly exportName: string };
  /** The config module, used when no -c/--config is given. */
  readonly config?: BuiltinModule;
}

function _print(fd: "stdout" | "stderr", text: string): void {
  process[fd].write(text.endsWith("\n") ? text : text + "\n");
}

/** The built-in app's export, checked to be a handler. */
function _builtinApp(app: NonNullable<Builtins["app"]>): App {
  const value = app.exports[app.exportName];
  try {
    toHandler(value);
  } catch (err) {
    throw new AppLoadError(`Cannot load app "${app.name}": export "${app.exportName}" ${describeError(err)}`);
  }
  return value as App;
}

/** `--check-config`: the settings loaded already; now the TLS files and the app. */
async function _checkConfig(
  settings: Settings,
  app: AppSpec,
  builtins: Builtins,
  cwd: string,
): Promise<number> {
  readTls(settings);
  if (builtins.app) _builtinApp(builtins.app);
  else await loadApp(app, resolve(cwd, settings.chdir));
  const config = settings.config === null ? "no config file" : `config ${settings.config}`;
  _print("stdout", `corral: config OK: app ${app.module} (${config})`);
  return ExitCode.OK;
}

/** For --reload: the app's folder (a local app) and the config file. */
function _startReloader(settings: Settings, app: AppSpec, builtins: Builtins, cwd: string): Reloader {
  const log = logger("reloader");
  const roots: string[] = [];
  const specifier = resolveModule(app.module, resolve(cwd, settings.chdir));
  if (!builtins.app && specifier.startsWith("file:")) roots.push(dirname(new URL(specifier).pathname));
  else {log.warning("--reload: the app {app} is not a local file; only the config file is watched", {
      app: app.module,
    });}
  const files = settings.config && !settings.config.startsWith("builtin:") ? [settings.config] : [];
  const reloader = Reloader.start({ roots, files, onChange: (paths) => reloadMaster(paths, cwd) });
  log.info("Watching {n} folder(s) for changes (--reload)", { n: reloader.folders.length });
  return reloader;
}

async function _serve(args: readonly string[], builtins: Builtins, checking: boolean): Promise<number> {
  const environment: Environment = {
    env: (name) => process.env[name],
    cpuCount: () => cpus().length,
    cwd: process.cwd(),
  };
  const options: LoadOptions = builtins.app
    ? { builtinApp: { module: builtins.app.name, exportName: builtins.app.exportName } }
    : {};
  const launch = await loadInvocation(args, environment, options);
  if (launch.action === "help") {
    _print("stdout", helpText());
    return ExitCode.OK;
  }
  if (launch.action === "version") {
    _print("stdout", `corral ${VERSION} (${runtime.name} ${runtime.version})`);
    return ExitCode.OK;
  }
  const { settings, hooks } = launch;
  if (settings.printConfig) {
    _print("stdout", formatSettings(settings));
    return ExitCode.OK;
  }
  const app = launch.app as AppSpec; // Null only with --print-config.
  if (checking) return await _checkConfig(settings, app, builtins, environment.cwd);
  if (builtins.app) _builtinApp(builtins.app);
  // Before the log file is created: --umask decides its mode too.
  if (settings.umask !== null) process.umask(settings.umask);
  setupLogging(settings);

  let reloader: Reloader | null = null;
  const masterHooks: Hooks = !settings.reload ? hooks : {
    ...hooks,
    // Watch only once the master handles HUP: its default action is to exit.
    whenReady: async (ready) => {
      reloader ??= _startReloader(settings, app, builtins, environment.cwd);
      await hooks.whenReady?.(ready);
    },
  };
  const notifier = await SystemdNotifier.fromEnv();
  const arbiterOptions = {
    runtime,
    settings,
    app,
    hooks: masterHooks,
    reloadSettings: async () => {
      const again = await loadInvocation(args, environment, { ...options, fresh: true });
      return (again as Extract<typeof again, { action: "serve" }>).settings;
    },
    ...(notifier ? { notify: notifier } : {}),
  };
  try {
    return await new Arbiter(arbiterOptions).run();
  } finally {
    (reloader as Reloader | null)?.close();
    notifier?.close();
  }
}

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
  if (builtins.config) registerBuiltinConfig(builtins.config);
  if (args[0] === WORKER_FLAG) {
    // A worker loads the config file's hooks from the settings the master sends.
    await runWorker(runtime, builtins.app ? _builtinApp(builtins.app) : undefined);
    return ExitCode.OK;
  }
  const checking = args.includes("--check-config") ||
    /--check-config\b/.test(process.env.CORRAL_CMD_ARGS ?? "");
  try {
    // `corral ctl ...` talks to a running master over its --control-socket.
    if (args[0] === "ctl") return await runCtl(args.slice(1));
    return await _serve(args, builtins, checking);
  } catch (err) {
    if (!(err instanceof CorralError) && !checking) throw err;
    _print("stderr", `corral: error: ${err instanceof CorralError ? err.message : describeError(err)}`);
    if (checking) return ExitCode.ERROR;
    if ((err as CorralError).exitCode === ExitCode.USAGE) {
      _print("stderr", "Try 'corral --help' for more information.");
    }
    return (err as CorralError).exitCode;
  }
}

if (import.meta.main) runtime.exit(await main(runtime.args));
