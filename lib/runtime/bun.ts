/// <reference path="./_bun.d.ts" />
/** The Bun side of the runtime seam. */
import process from "node:process";
import { lines } from "./_lines.ts";
import { bindError } from "./_bind_error.ts";
import type { LibcCalls } from "./_libc.ts";
import { markInfoUpgraded, startConnectionWatcher, watchOptions } from "./_watcher.ts";
import { openLibc } from "./datagram_bun.ts";
import type {
  ChildProcess,
  RemoteAddr,
  Runtime,
  ServeInfo,
  ServeSpec,
  Signal,
  SpawnOptions,
} from "./types.ts";

type BunServer = Bun.Server;

/** `info.remoteAddr`, computed only when asked for (requestIP costs about 1 µs), and once. */
class _Info implements ServeInfo {
  #request: Request;
  #server: BunServer;
  #remoteAddr: RemoteAddr | undefined;
  constructor(request: Request, server: BunServer) {
    this.#request = request;
    this.#server = server;
  }
  get remoteAddr(): RemoteAddr {
    if (this.#remoteAddr) return this.#remoteAddr;
    const ip = this.#server.requestIP(this.#request);
    return this.#remoteAddr = ip
      ? { transport: "tcp", hostname: ip.address, port: ip.port }
      : { transport: "unix", path: "" };
  }
}

function _selfCommand(): string[] {
  // A `bun build --compile` binary runs its embedded entry from /$bunfs/.
  if (Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/")) {
    return [process.execPath];
  }
  return [process.execPath, ...process.execArgv, Bun.main];
}

function _spawn(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const proc = Bun.spawn(argv, {
    stdin: options.stdin === "null" ? "ignore" : "pipe",
    stdout: "inherit",
    stderr: "inherit",
    ...(options.cwd ? { cwd: options.cwd } : {}),
    // Bun's env replaces the environment; ours adds to it.
    ...(options.env ? { env: { ...process.env, ...options.env } as Record<string, string> } : {}),
  });
  return {
    pid: proc.pid,
    exited: proc.exited.then(() => ({
      code: proc.signalCode ? null : proc.exitCode,
      signal: proc.signalCode ? String(proc.signalCode) : null,
    })),
    send(line) {
      try {
        proc.stdin.write(line + "\n");
        proc.stdin.flush();
      } catch { /* the child is gone */ }
    },
    kill(signal) {
      try {
        proc.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

let _libc: LibcCalls | null | undefined;
let _libcProblem: string | null = null;

/** libc for runtime/_watcher.ts, or null off Linux or when it cannot be opened. */
function _socketCalls(): LibcCalls | null {
  if (_libc !== undefined) return _libc;
  _libc = null;
  if (process.platform !== "linux") _libcProblem = `not on Linux (${process.platform})`;
  else {
    try {
      _libc = openLibc();
    } catch (err) {
      _libcProblem = `libc cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return _libc;
}

function _serve(spec: ServeSpec) {
  const { address, tls, handler } = spec;
  try {
    const server: BunServer = Bun.serve({
      ...(address.transport === "unix"
        ? { unix: address.path }
        : { hostname: address.hostname, port: address.port, reusePort: spec.reusePort }),
      // With TLS, HTTP/2 is offered through ALPN, as Deno.serve does.
      ...(tls ? { tls: { cert: tls.cert, key: tls.key }, http2: true } : {}),
      // Bun's own idle timeout also cuts a request the app takes longer than
      // it to answer (measured: a 13 s request cut at 8 s with 5): off, and
      // --keep-alive and the slow-client timeouts are enforced from
      // runtime/_watcher.ts instead.
      idleTimeout: 0,
      // No cap of Bun's own (128 MiB by default): --limit-request-body is
      // corral's front's, the same on both runtimes.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      development: false,
      fetch: (request: Request, srv: BunServer) => handler(request, new _Info(request, srv)),
      error: spec.onError,
    });
    const watch = address.transport === "tcp" && server.port ? watchOptions(spec, server.port) : null;
    const libc = watch ? _socketCalls() : null;
    const stopWatching = libc && watch ? startConnectionWatcher(libc, watch) : null;
    return {
      shutdown: () => {
        stopWatching?.();
        return server.stop(false);
      },
    };
  } catch (err) {
    throw bindError(address, tls !== null, err);
  }
}

/** Bun's implementation of {@link Runtime}. */
export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  args: process.argv.slice(2),
  selfCommand: _selfCommand,
  spawn: _spawn,
  serve: _serve,
  markUpgraded: markInfoUpgraded,
  connectionWatchProblem: () => _socketCalls() === null ? _libcProblem : null,
  onSignal(signal: Signal, listener: () => void) {
    process.on(signal, listener);
  },
  stdinLines: () => lines(Bun.stdin.stream()),
  exit: (code: number) => process.exit(code),
};
