/** The Deno side of the runtime seam. */
import { denoRecord } from "./_deno_record.ts";
import { streamsBody } from "./_deno_response.ts";
import { lines } from "./_lines.ts";
import { bindError } from "./_bind_error.ts";
import { hasPendingInput } from "./_sockets.ts";
import { markUpgraded, startConnectionWatcher, watchOptions } from "./_watcher.ts";
import type { LibcCalls } from "./_libc.ts";
import { closeSocketsOnExec } from "./_close_on_exec.ts";
import {
  adoptAt,
  bindSocket,
  detachServer,
  isListening,
  placeholderFor,
  setIds,
  socketAddress,
} from "./_adopt.ts";
import type { Address } from "../address.ts";
import { openLibc } from "./datagram_deno.ts";
import { mapFileDeno } from "./_map_deno.ts";
import { sharedMemoryOf } from "./_shared_memory.ts";
import { SocketRegistry } from "./_websockets.ts";
import type {
  ChildExit,
  ChildProcess,
  Ids,
  Runtime,
  ServeSpec,
  Signal,
  SpawnOptions,
  WorkerNeeds,
} from "./types.ts";

const _PERMISSIONS = ["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const;

/** Extra flags for workers, for what corral cannot see: `CORRAL_DENO_FLAGS="--allow-read=./data"`. */
function _extraFlags(): string[] {
  const state = Deno.permissions.querySync({ name: "env", variable: "CORRAL_DENO_FLAGS" }).state;
  const value = state === "granted" ? Deno.env.get("CORRAL_DENO_FLAGS") : undefined;
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

/**
 * Permission flags rebuilt through the permission API: kinds granted in
 * full pass on as they are; of a kind granted in part, the worker gets the
 * descriptors corral itself needs (`needs`), since the API cannot list
 * what the master holds.
 */
function _permissionFlags(needs: WorkerNeeds): string[] {
  const flags: string[] = [];
  for (const name of _PERMISSIONS) {
    if (Deno.permissions.querySync({ name }).state === "granted") {
      flags.push(`--allow-${name}`);
      continue;
    }
    const wanted = name === "read" || name === "write" || name === "net" ? needs[name] : [];
    const held = wanted.filter((d) => {
      const descriptor = name === "net" ? { name, host: d } : { name, path: d };
      return Deno.permissions.querySync(descriptor as Deno.PermissionDescriptor).state === "granted";
    });
    if (held.length) flags.push(`--allow-${name}=${held.join(",")}`);
  }
  return flags;
}

/**
 * The command that runs this same program as a worker, with the same
 * permissions, config and lock file. Reading /proc/self/cmdline is exact,
 * but Deno allows it only under -A; otherwise the flags are rebuilt from
 * the permission API (see {@link _permissionFlags}).
 */
function _selfCommand(needs: WorkerNeeds = { read: [], write: [], net: [] }): string[] {
  if (Deno.build.standalone) return [Deno.execPath()];
  const cmdline = "/proc/self/cmdline";
  if (Deno.permissions.querySync({ name: "read", path: cmdline }).state === "granted") {
    try {
      const argv = Deno.readTextFileSync(cmdline).split("\0").slice(0, -1);
      const own = argv.slice(0, argv.length - Deno.args.length);
      if (own.length >= 2) {
        own[0] = Deno.execPath();
        if (!own.includes("--unstable-net") && !own.includes("--unstable")) {
          own.splice(own[1] === "run" ? 2 : 1, 0, "--unstable-net");
        }
        return own;
      }
    } catch { /* fall through to what the permission API can tell */ }
  }
  return [
    Deno.execPath(),
    "run",
    ..._permissionFlags(needs),
    ..._extraFlags(),
    "--unstable-net",
    Deno.mainModule,
  ];
}

function _spawn(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const [program, ...args] = argv;
  const libc = _socketCalls();
  if (libc !== null) closeSocketsOnExec(libc, new Set(options.fds ?? []));
  const piped = options.stdin !== "null";
  const child = new Deno.Command(program as string, {
    args,
    stdin: piped ? "piped" : "null",
    stdout: "inherit",
    stderr: "inherit",
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: { ...options.env } } : {}),
  }).spawn();
  const writer = piped ? child.stdin.getWriter() : null;
  const encoder = new TextEncoder();
  const exited: Promise<ChildExit> = child.status.then((s) => {
    // The stdin pipe stays open until its writer is closed: one descriptor
    // leaked per exited worker otherwise (measured: 33 -> 205 over 200 HUPs).
    writer?.abort().catch(() => {});
    return { code: s.signal ? null : s.code, signal: s.signal };
  });
  return {
    pid: child.pid,
    exited,
    send(line) {
      writer?.write(encoder.encode(line + "\n")).catch(() => {});
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

let _libc: LibcCalls | null | undefined;
let _libcProblem: string | null = null;

/**
 * libc for runtime/_sockets.ts and _watcher.ts, or null where it cannot be
 * used: off Linux, or without --allow-ffi and reading /proc (`-A` has both).
 */
function _socketCalls(): LibcCalls | null {
  if (_libc !== undefined) return _libc;
  _libc = null;
  if (Deno.build.os !== "linux") _libcProblem = `not on Linux (${Deno.build.os})`;
  else if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    _libcProblem = "--allow-ffi is not granted";
  } else if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") {
    _libcProblem = "reading /proc is not allowed (--allow-read=/proc)";
  } else {
    try {
      _libc = openLibc();
    } catch (err) {
      _libcProblem = `libc cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return _libc;
}

function _unread(libc: LibcCalls, port: number): boolean {
  try {
    return hasPendingInput(libc, port);
  } catch {
    return false;
  }
}

/** The WebSockets the app opened with Deno.upgradeWebSocket, until each closes. */
const _webSockets = new SocketRegistry<WebSocket>((ws, code, reason) => ws.close(code, reason));
let _counting = false;

/**
 * The client of a request Deno.serve gave, read before its upgrade (after
 * it, Deno's info throws "Request closed"). Only the request is at hand in
 * Deno.upgradeWebSocket: its record (runtime/_deno_record.ts) has the
 * address. Null if a Deno release hides it: the connection is then not
 * marked, and --keep-alive may close an idle WebSocket.
 */
function _peerOf(request: Request): Deno.Addr | null {
  try {
    return (denoRecord(request)?.remoteAddr as Deno.Addr | undefined) ?? null;
  } catch {
    return null;
  }
}

/**
 * Makes Deno.upgradeWebSocket count the sockets it makes, once per worker:
 * the only way to learn of them, and the app (or Hono's `upgradeWebSocket`)
 * calls it by name. A stopping worker waits for them, since Deno's
 * shutdown() closes them at once (measured: 1001 within 30 ms).
 */
function _countWebSockets(): void {
  if (_counting) return;
  _counting = true;
  const upgrade = Deno.upgradeWebSocket;
  Object.defineProperty(Deno, "upgradeWebSocket", {
    value: (request: Request, options?: Deno.UpgradeWebSocketOptions) => {
      const peer = _peerOf(request);
      const result = upgrade(request, options);
      // The connection is the app's now: the watcher must never close it as idle or slow.
      if (peer?.transport === "tcp") markUpgraded(peer.hostname, peer.port);
      const socket = result.socket;
      _webSockets.add(socket);
      socket.addEventListener("close", () => _webSockets.delete(socket));
      return result;
    },
    writable: true,
    configurable: true,
    enumerable: true,
  });
}

/** The export's `onListen`, as `deno serve` calls it; else nothing is printed. */
function _onListen(app: object | null | undefined): (addr: Deno.Addr) => void {
  const onListen = (app as { onListen?: unknown } | null | undefined)?.onListen;
  return typeof onListen === "function" ? (addr) => onListen.call(app, addr) : () => {};
}

/** libc, or an error saying what it takes on Deno. */
function _requireLibc(what: string): LibcCalls {
  const libc = _socketCalls();
  if (libc === null) {
    throw new Error(`${what} needs --allow-ffi and read access to /proc on Deno (run it with -A)`);
  }
  return libc;
}

/** Deno.serve on `at` with the spec's handler and TLS. */
function _denoServe(spec: ServeSpec, at: Address, reusePort: boolean) {
  const onListen = _onListen(spec.app);
  const onError = spec.onError;
  // corral's ServeInfo is the part of Deno's ServeHandlerInfo apps rely on.
  const handler = spec.handler as unknown as Deno.ServeHandler<Deno.NetAddr>;
  const unixHandler = spec.handler as unknown as Deno.ServeHandler<Deno.UnixAddr>;
  return at.transport === "unix"
    ? Deno.serve({ path: at.path, onListen, onError }, unixHandler)
    : Deno.serve({
      hostname: at.hostname,
      port: at.port,
      reusePort,
      onListen,
      onError,
      ...(spec.tls ? { cert: spec.tls.cert, key: spec.tls.key } : {}),
    }, handler);
}

function _serve(spec: ServeSpec) {
  const { address, tls } = spec;
  _countWebSockets();
  try {
    const adopting = spec.listenFd !== undefined;
    const libc = adopting ? _requireLibc("Serving a socket by its descriptor") : null;
    const at = adopting ? placeholderFor(address) : address;
    const server = _denoServe(spec, at, adopting ? false : spec.reusePort);
    const addr = server.addr as Deno.NetAddr;
    let fd = -1;
    if (libc !== null) {
      const placeholder = at.transport === "tcp" ? { ...at, port: addr.port } : at;
      fd = adoptAt(libc, placeholder, spec.listenFd as number);
    }
    // The port connections arrive on: the adopted socket's, else the one bound.
    const port = address.transport === "tcp" ? (adopting ? address.port : addr.port) : 0;
    // Deno 2.9's server has no idle or request timeouts (runtime/_watcher.ts).
    const watch = address.transport === "tcp" ? watchOptions(spec, port) : null;
    const watchLibc = watch ? _socketCalls() : null;
    const stopWatching = watchLibc && watch ? startConnectionWatcher(watchLibc, watch) : null;
    const detach = () =>
      detachServer(
        libc ?? _socketCalls(),
        address.transport === "tcp" ? port : undefined,
        spec.sharedListener && libc !== null ? fd : null,
      );
    return {
      shutdown: async () => {
        stopWatching?.();
        await _webSockets.closed();
        return server.shutdown();
      },
      detach,
      finished: server.finished,
      ...(address.transport === "tcp" && _socketCalls()
        ? { pendingInput: () => _unread(_socketCalls() as LibcCalls, port) }
        : {}),
    };
  } catch (err) {
    throw bindError(address, tls !== null, err);
  }
}

/** Deno's implementation of {@link Runtime}. */
export const denoRuntime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  args: Deno.args,
  selfCommand: _selfCommand,
  spawn: _spawn,
  serve: _serve,
  whenSent: (response, info) => {
    if (!streamsBody(response)) return null;
    const completed = (info as { completed?: unknown }).completed;
    return completed instanceof Promise ? completed : null;
  },
  webSockets: _webSockets,
  connectionWatchProblem: () => _socketCalls() === null ? _libcProblem : null,
  inheritProblem: () => _socketCalls() === null ? _libcProblem : null,
  sharedMemory: () => sharedMemoryOf(_socketCalls(), mapFileDeno),
  bindSocket: (address: Address, reusePort: boolean) =>
    bindSocket(_requireLibc("Binding before dropping privileges (--user)"), address, reusePort),
  listeningAddress(fd: number) {
    const libc = _requireLibc("Serving systemd's sockets (LISTEN_FDS)");
    return isListening(libc, fd) ? socketAddress(libc, fd) : null;
  },
  setIds: (ids: Ids) => setIds(_requireLibc("Switching user (--user)"), ids),
  onSignal(signal: Signal, listener: () => void) {
    Deno.addSignalListener(signal as Deno.Signal, listener);
  },
  stdinLines: () => lines(Deno.stdin.readable),
  onExit(listener: () => void) {
    // Deno.exit() runs "unload" listeners, not node:process's "exit" ones.
    globalThis.addEventListener("unload", listener);
  },
  exit: (code: number) => Deno.exit(code),
};
