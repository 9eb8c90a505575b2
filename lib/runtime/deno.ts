/** The Deno side of the runtime seam. */
import { lines } from "./_lines.ts";
import { bindError } from "./_bind_error.ts";
import type { ChildExit, ChildProcess, Runtime, ServeSpec, Signal, SpawnOptions } from "./types.ts";

const _PERMISSIONS = ["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const;

/**
 * The flags this `deno` process was started with, so workers run exactly
 * the same entry with the same permissions, config and lock file. Reading
 * /proc/self/cmdline is exact; without read access to it (or off Linux),
 * only permissions granted in full can be passed on.
 */
function _selfCommand(): string[] {
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
  const flags = _PERMISSIONS
    .filter((name) => Deno.permissions.querySync({ name }).state === "granted")
    .map((name) => `--allow-${name}`);
  return [Deno.execPath(), "run", ...flags, "--unstable-net", Deno.mainModule];
}

function _spawn(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const [program, ...args] = argv;
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
  const exited: Promise<ChildExit> = child.status.then((s) => ({
    code: s.signal ? null : s.code,
    signal: s.signal,
  }));
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

function _serve(spec: ServeSpec) {
  const { address, tls } = spec;
  const onListen = () => {};
  const onError = spec.onError;
  // corral's ServeInfo is the part of Deno's ServeHandlerInfo apps rely on.
  const handler = spec.handler as unknown as Deno.ServeHandler<Deno.NetAddr>;
  const unixHandler = spec.handler as unknown as Deno.ServeHandler<Deno.UnixAddr>;
  try {
    const server = address.transport === "unix"
      ? Deno.serve({ path: address.path, onListen, onError }, unixHandler)
      : Deno.serve({
        hostname: address.hostname,
        port: address.port,
        reusePort: spec.reusePort,
        onListen,
        onError,
        ...(tls ? { cert: tls.cert, key: tls.key } : {}),
      }, handler);
    return { shutdown: () => server.shutdown() };
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
  onSignal(signal: Signal, listener: () => void) {
    Deno.addSignalListener(signal as Deno.Signal, listener);
  },
  stdinLines: () => lines(Deno.stdin.readable),
  exit: (code: number) => Deno.exit(code),
};
