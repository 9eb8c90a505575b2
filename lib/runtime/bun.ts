/// <reference path="./_bun.d.ts" />
/** The Bun side of the runtime seam. */
import process from "node:process";
import { lines } from "./_lines.ts";
import { bindError } from "./_bind_error.ts";
import type { LibcCalls } from "./_libc.ts";
import { hasPendingInput } from "./_sockets.ts";
import { startConnectionWatcher, watchOptions } from "./_watcher.ts";
import { adoptAt, bindSocket, detachServer, isListening, placeholderFor, socketAddress } from "./_adopt.ts";
import { openLibc } from "./datagram_bun.ts";
import { bunFetch, bunInfoClass, bunRoutes, type BunServing, bunWebSocket } from "./_bun_server.ts";
import { SocketRegistry } from "./_websockets.ts";
import { sharedMemoryOf } from "./_shared_memory.ts";
import type { Address } from "../address.ts";
import type { ChildProcess, Handler, Ids, Runtime, ServeSpec, Signal, SpawnOptions } from "./types.ts";
import { importWithDenoConfig } from "./bun_deno_config.ts";

type BunServer = Bun.Server;

/** The WebSockets of this process's servers, counted by their open and close handlers. */
const _webSockets = new SocketRegistry<Bun.ServerWebSocket>((ws, code, reason) => ws.close(code, reason));

function _selfCommand(): string[] {
  // A `bun build --compile` binary runs its embedded entry from /$bunfs/.
  if (Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/")) {
    return [process.execPath];
  }
  return [process.execPath, ...process.execArgv, Bun.main];
}

function _spawn(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const stdin = options.stdin === "null" ? "ignore" : "pipe";
  // Bun.spawn closes every other descriptor: the ones to keep go in stdio, at their own numbers.
  const extra = options.fds?.length ? Math.max(...options.fds) + 1 - 3 : 0;
  const stdio: ("pipe" | "inherit" | "ignore" | number)[] = [stdin, "inherit", "inherit"];
  for (let fd = 3; fd < 3 + extra; fd++) stdio.push(options.fds?.includes(fd) ? fd : "ignore");
  const proc = Bun.spawn(argv, {
    stdio,
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

/** libc, or an error saying what needs it. */
function _requireLibc(what: string): LibcCalls {
  const libc = _socketCalls();
  if (libc === null) throw new Error(`${what} needs Linux and its libc`);
  return libc;
}

/** libc for runtime/_watcher.ts and _sockets.ts, or null off Linux or when it cannot be opened. */
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

/** The bound address as a URL's authority: `127.0.0.1:8000`, `[::1]:8000`. */
function _authority(address: Address, port: number): string {
  if (address.transport === "unix") return "localhost";
  return `${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${port}`;
}

/**
 * The export's own Bun.serve keys that mean the same under corral: its
 * WebSocket handlers, its routes (each handler wrapped as `fetch` is), and
 * its choices of development mode, id and body cap. Where to listen,
 * TLS and the idle timeout are corral's (app_loader.ts warns of them).
 */
function _appOptions(spec: ServeSpec, serving: BunServing): Record<string, unknown> {
  const app = (spec.app ?? {}) as Record<string, unknown>;
  const wrap = spec.wrap ?? ((handler: Handler) => handler);
  const routes = bunRoutes(app.routes, (handler) => bunFetch(wrap(handler), serving));
  const websocket = bunWebSocket(app.websocket, _webSockets);
  return {
    ...(routes ? { routes } : {}),
    ...(app.static !== null && typeof app.static === "object" ? { static: app.static } : {}),
    ...(websocket ? { websocket } : {}),
    ...(typeof app.development === "boolean" || typeof app.development === "object"
      ? { development: app.development }
      : {}),
    ...(typeof app.id === "string" ? { id: app.id } : {}),
    ...(typeof app.maxRequestBodySize === "number" ? { maxRequestBodySize: app.maxRequestBodySize } : {}),
  };
}

function _serve(spec: ServeSpec) {
  const { address, tls } = spec;
  const scheme = tls ? "https" : "http";
  const serving: BunServing = { Info: null, scheme, origin: "" };
  try {
    const adopting = spec.listenFd !== undefined;
    const libc = adopting ? _requireLibc("Serving a socket by its descriptor") : null;
    const at = adopting ? placeholderFor(address) : address;
    const server: BunServer = Bun.serve({
      ...(at.transport === "unix"
        ? { unix: at.path }
        : { hostname: at.hostname, port: at.port, reusePort: adopting ? false : spec.reusePort }),
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
      ..._appOptions(spec, serving),
      fetch: bunFetch(spec.handler, serving),
      error: spec.onError,
    });
    let fd = -1;
    if (libc !== null) {
      const placeholder = at.transport === "tcp" ? { ...at, port: server.port ?? 0 } : at;
      fd = adoptAt(libc, placeholder, spec.listenFd as number);
    }
    _servers.add(server);
    serving.Info = bunInfoClass(server);
    // The port connections arrive on: the adopted socket's, else the one bound.
    const port = address.transport === "tcp"
      ? (adopting || address.port !== 0 ? address.port : server.port)
      : 0;
    serving.origin = `${scheme}://${_authority(address, port ?? 0)}`;
    const watched = address.transport === "tcp" && port ? watchOptions(spec, port) : null;
    const watch = watched && { ...watched, sending: () => _sending(spec.inFlight) };
    const watchLibc = watch ? _socketCalls() : null;
    const stopWatching = watchLibc && watch ? startConnectionWatcher(watchLibc, watch) : null;
    const detach = () =>
      detachServer(libc ?? _socketCalls(), port, spec.sharedListener && libc !== null ? fd : null);
    return {
      // stop(false) leaves the WebSockets open, and resolves once they are closed.
      shutdown: () => {
        stopWatching?.();
        _servers.delete(server);
        return server.stop(false);
      },
      ...(address.transport === "tcp" && process.platform === "linux"
        ? { pendingInput: () => _unread(port), detach }
        : {}),
    };
  } catch (err) {
    throw bindError(address, tls !== null, err);
  }
}

/** This process's servers, for {@link _sending}. */
const _servers = new Set<BunServer>();

/**
 * Responses the servers are still sending whose handler has returned: Bun
 * counts a request pending until its response is sent (a stream: to its
 * end), and `inFlight` the handlers that have not returned.
 */
function _sending(inFlight: ServeSpec["inFlight"]): number {
  let pending = 0;
  for (const server of _servers) pending += server.pendingRequests;
  return pending - (inFlight?.size ?? 0);
}

function _unread(port: number | undefined): boolean {
  const libc = port === undefined ? null : _socketCalls();
  try {
    return libc !== null && hasPendingInput(libc, port as number);
  } catch {
    return false;
  }
}

/** Maps the existing file at `path` with Bun.mmap, which maps it shared. */
function _mapFile(path: string, bytes: number): ArrayBuffer {
  const view = Bun.mmap(path, { shared: true });
  if (view.byteOffset !== 0 || view.byteLength < bytes) throw new Error(`Cannot map "${path}" whole`);
  return view.buffer as ArrayBuffer;
}

/** Bun's implementation of {@link Runtime}. */
export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  args: process.argv.slice(2),
  selfCommand: _selfCommand,
  spawn: _spawn,
  serve: _serve,
  // Bun's Response tells whether its body streams only through \`body\`, which costs 0.6 µs a request (and
  // makes one): the watcher asks the servers how many responses they are still sending instead.
  whenSent: () => null,
  webSockets: _webSockets,
  connectionWatchProblem: () => _socketCalls() === null ? _libcProblem : null,
  sharedMemory: () => sharedMemoryOf(_socketCalls(), _mapFile),
  bindSocket: (address, reusePort) => bindSocket(_requireLibc("Binding a socket"), address, reusePort),
  listeningAddress(fd) {
    const libc = _requireLibc("Serving systemd's sockets (LISTEN_FDS)");
    return isListening(libc, fd) ? socketAddress(libc, fd) : null;
  },
  setIds(ids: Ids) {
    process.setgroups?.([...ids.groups]);
    process.setgid?.(ids.gid);
    process.setuid?.(ids.uid);
    if (process.getuid?.() !== ids.uid) throw new Error(`setuid(${ids.uid}) did not take effect`);
  },
  onSignal(signal: Signal, listener: () => void) {
    process.on(signal, listener);
  },
  stdinLines: () => lines(Bun.stdin.stream()),
  onExit(listener: () => void) {
    process.on("exit", listener);
  },
  exit: (code: number) => process.exit(code),
  importApp: importWithDenoConfig,
};
