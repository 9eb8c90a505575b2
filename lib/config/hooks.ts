/**
 * Server hooks, as in Gunicorn: functions the user gives through mod.ts
 * `serve()` or the config module, called at points of the master's and the
 * workers' lives. A hook that throws is logged with its name; it never
 * takes the master down.
 * @module
 */
import { describeError } from "../errors.ts";
import { logger } from "../log.ts";
import type { Settings } from "./settings.ts";

/** What a hook learns about a worker. */
export interface WorkerInfo {
  readonly pid: number;
  /** Spawn order, 1-based. */
  readonly age: number;
}

/** How a worker ended, for `childExit`. */
export interface WorkerExitInfo extends WorkerInfo {
  readonly code: number | null;
  readonly signal: string | null;
}

/** The server hooks. All are optional; any may be async. */
export interface Hooks {
  /** Master: before anything is bound or spawned. */
  onStarting?: (settings: Readonly<Settings>) => void | Promise<void>;
  /** Master: once every worker of the first generation is serving. */
  whenReady?: (settings: Readonly<Settings>) => void | Promise<void>;
  /** Master: on HUP, before the replacement workers are spawned. */
  onReload?: (settings: Readonly<Settings>) => void | Promise<void>;
  /** Master: just before a worker is spawned. */
  preFork?: (worker: { readonly age: number }) => void | Promise<void>;
  /** Worker: after the app module loaded, before it binds. */
  postWorkerInit?: (worker: WorkerInfo) => void | Promise<void>;
  /** Worker: as it begins to stop. */
  workerExit?: (worker: WorkerInfo) => void | Promise<void>;
  /** Master: after a worker process exited, for any reason. */
  childExit?: (worker: WorkerExitInfo) => void | Promise<void>;
  /** Master: when the target number of workers changed (TTIN, TTOU, reload). */
  nworkersChanged?: (now: number, before: number) => void | Promise<void>;
  /** Master: last thing before it exits. */
  onExit?: (settings: Readonly<Settings>) => void | Promise<void>;
}

/** The hook names, as keys of a config module or of serve() options. */
export const HOOK_NAMES: readonly (keyof Hooks)[] = [
  "onStarting",
  "whenReady",
  "onReload",
  "preFork",
  "postWorkerInit",
  "workerExit",
  "childExit",
  "nworkersChanged",
  "onExit",
];

/** Picks the hooks out of an object; a hook key that is not a function is an error. */
export function pickHooks(object: Record<string, unknown>, where: string): Hooks {
  const hooks: Record<string, unknown> = {};
  for (const name of HOOK_NAMES) {
    const value = object[name];
    if (value === undefined) continue;
    if (typeof value !== "function") {
      throw new TypeError(`Hook "${name}" in ${where} must be a function, got ${typeof value}`);
    }
    hooks[name] = value;
  }
  return hooks as Hooks;
}

/** Calls one hook; what it throws or rejects is logged with its name and swallowed. */
export async function callHook<K extends keyof Hooks>(
  hooks: Hooks,
  name: K,
  ...args: Parameters<NonNullable<Hooks[K]>>
): Promise<void> {
  const hook = hooks[name] as ((...a: unknown[]) => unknown) | undefined;
  if (!hook) return;
  try {
    await hook(...args);
  } catch (error) {
    logger("hooks").error("Hook {name} failed: {message}", { name, message: describeError(error), error });
  }
}
