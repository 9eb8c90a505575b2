/// <reference path="../../../lib/runtime/_bun.d.ts" />
/**
 * Bare `Bun.serve` with the peers' app, `reusePort` on, in N processes: how
 * Bun's docs scale a server over cores without a supervisor. With N > 1 this
 * process only starts the N servers and waits; it serves nothing.
 *
 * `bun scripts/bench/peers/bun_serve.ts 8000 2`
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import app from "./app.ts";

/** Set in the servers a launcher starts. */
const _CHILD = "CORRAL_PEER_CHILD";

function _serve(port: number): void {
  // development: false as corral sets it, so both take the production path.
  Bun.serve({ hostname: "127.0.0.1", port, reusePort: true, development: false, fetch: app.fetch });
}

function _launch(port: number, count: number): void {
  const children = Array.from(
    { length: count },
    () =>
      spawn(process.execPath, [...process.execArgv, process.argv[1] as string, String(port), "1"], {
        stdio: "inherit",
        env: { ...process.env, [_CHILD]: "1" },
      }),
  );
  const stop = () => {
    for (const child of children) child.kill("SIGTERM");
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // One server dying takes the rest down: the benchmark wants all or none.
  for (const child of children) child.on("exit", stop);
}

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 8000);
  const count = Number(process.argv[3] ?? 1);
  if (count > 1 && !process.env[_CHILD]) _launch(port, count);
  else _serve(port);
}
