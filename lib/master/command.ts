/**
 * The `corral` command as the master's process runs it (cli.ts hands a
 * worker's process to lib/worker/main.ts instead, without loading this):
 * the settings from every source, --help, --version, --print-config,
 * --check-config, `corral ctl`, and the master.
 * @module
 */
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { builtinApp, loadApp, resolveModule } from "../worker/app_loader.ts";
import { Arbiter } from "./arbiter.ts";
import { runCtl } from "../ctl.ts";
import { type AppSpec, type Environment, formatSettings, helpText } from "../config/config.ts";
import {
  type BuiltinModule,
  loadInvocation,
  type LoadOptions,
  registerBuiltinConfig,
} from "../config/config_file.ts";
import { CorralError, describeError, ExitCode } from "../errors.ts";
import type { Hooks } from "../config/hooks.ts";
import { logger } from "../log.ts";
import { setupMasterLogging } from "./logging.ts";
import { SystemdNotifier } from "./notify.ts";
import { Reloader, reloadMaster } from "./reloader.ts";
import { runtime } from "../runtime/mod.ts";
import type { Settings } from "../config/settings.ts";
import { readTls } from "../tls.ts";
import { VERSION } from "../version.ts";

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

/** `--check-config`: the settings loaded already; now the TLS files and the app. */
async function _checkConfig(
  settings: Settings,
  app: AppSpec,
  builtins: Builtins,
  cwd: string,
): Promise<number> {
  readTls(settings);
  if (builtins.app) builtinApp(builtins.app);
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
  if (builtins.app) builtinApp(builtins.app);
  // Before the log file is created: --umask decides its mode too.
  if (settings.umask !== null) process.umask(settings.umask);
  setupMasterLogging(settings);

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
 * Runs the command line `args` in the master's process; resolves with the
 * exit code. `builtins` are the modules a compiled binary carries.
 */
export async function runCommand(args: readonly string[], builtins: Builtins = {}): Promise<number> {
  if (builtins.config) registerBuiltinConfig(builtins.config);
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
