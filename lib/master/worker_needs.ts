/**
 * What a worker must be allowed to touch, for runtimes with permissions
 * (Deno): see lib/runtime/deno.ts `_permissionFlags`.
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveModule } from "../worker/app_loader.ts";
import type { AppSpec } from "../config/config.ts";
import type { WorkerBoot } from "../ipc.ts";
import type { WorkerNeeds } from "../runtime/types.ts";
import type { Settings } from "../config/settings.ts";

/** The paths and addresses a worker of these settings reads, writes and binds. */
export function workerNeeds(
  settings: Settings,
  app: AppSpec,
  listen: WorkerBoot["listen"],
  ipcPath: string,
): WorkerNeeds {
  const ipcDir = dirname(ipcPath);
  const chdir = resolve(settings.chdir);
  const read = [ipcDir, chdir];
  // From a URL (deno run -A https://...), corral's own files are not on disk.
  if (import.meta.url.startsWith("file:")) read.push(fileURLToPath(new URL("../", import.meta.url)));
  // Workers load the config file for its hooks (lib/config/config_file.ts loadConfigHooks).
  if (settings.config && !settings.config.startsWith("builtin:")) read.push(settings.config);
  const module = resolveModule(app.module, chdir);
  if (module.startsWith("file:")) read.push(fileURLToPath(module));
  for (const file of [settings.certfile, settings.keyfile]) if (file) read.push(resolve(file));
  const write = [ipcDir];
  const net: string[] = [];
  for (const { address } of listen) {
    if (address.transport === "tcp") net.push(`${address.hostname}:${address.port}`);
    else read.push(address.path), write.push(address.path);
  }
  return { read, write, net };
}
