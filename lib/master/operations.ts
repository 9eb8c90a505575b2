/**
 * What the master offers operators: the metrics server (--metrics-bind:
 * Prometheus text at /metrics, the status page at /, its data at
 * /status.json) and the control socket (--control-socket) that
 * `corral ctl` talks to. Both run in the master, off the data path.
 * @module
 */
import { chmodSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { formatAddress, type TcpAddress } from "../address.ts";
import { BootError, describeError } from "../errors.ts";
import { clearUnixPath } from "./listeners.ts";
import { logger } from "../log.ts";
import type { Metrics, Status, WorkerView } from "./metrics.ts";
import type { RunningServer, Runtime } from "../runtime/mod.ts";
import { STATUS_PAGE } from "./status_page.ts";

/** A request on the control socket: one JSON object, one line. */
export type ControlRequest =
  | { readonly command: "status" }
  | { readonly command: "reload" }
  | { readonly command: "stop" }
  | { readonly command: "scale"; readonly workers: number };

/** The answer: one JSON object, one line. */
export type ControlReply =
  | { readonly ok: true; readonly message: string; readonly status?: Status }
  | { readonly ok: false; readonly error: string };

/** What the master exposes to the operations servers. */
export interface OperationsSource {
  readonly metrics: Metrics;
  workers(): readonly WorkerView[];
  status(): Status;
  target(): number;
  /** Carries out a control command (reload, stop, scale) through the master's loop. */
  control(request: ControlRequest): ControlReply;
}

function _metricsHandler(source: OperationsSource) {
  return (request: Request): Response => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    switch (pathname) {
      case "/metrics":
        return new Response(source.metrics.prometheus(source.workers(), source.target()), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      case "/status.json":
        return Response.json(source.status(), { headers: { "cache-control": "no-store" } });
      case "/":
        return new Response(STATUS_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
      default:
        return new Response("Not Found\n", { status: 404 });
    }
  };
}

/** Starts the metrics server on `address` (no SO_REUSEPORT: one master, one listener). */
export function serveMetrics(rt: Runtime, address: TcpAddress, source: OperationsSource): RunningServer {
  const server = rt.serve({
    address,
    reusePort: false,
    tls: null,
    handler: _metricsHandler(source),
    onError: (err) => {
      logger("operations").error("Metrics request failed: {message}", { message: describeError(err) });
      return new Response("Internal Server Error\n", { status: 500 });
    },
  });
  logger("operations").info("Metrics at: {where}/metrics, status page at {where}/", {
    where: formatAddress(address),
  });
  const warning = metricsExposure(address);
  if (warning) logger("operations").warning("{warning}", { warning });
  return server;
}

/** Whether a host name is a loopback address (127.0.0.0/8, ::1, their IPv4-mapped form, localhost). */
function _isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host === "::1" || /^(?:::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

/** The start-up warning for a metrics address other hosts may reach, or null for loopback. */
export function metricsExposure(address: TcpAddress): string | null {
  if (_isLoopback(address.hostname)) return null;
  return `--metrics-bind ${formatAddress(address)} is not a loopback address: every host that can reach it ` +
    "sees, with no authentication, the metrics and the status page (pids, memory, request counts, worker " +
    "states). Keep it on a private network or behind a firewall, or bind 127.0.0.1 (a bare :PORT does)";
}

function _parseRequest(line: string): ControlRequest | null {
  try {
    const r = JSON.parse(line) as { command?: unknown; workers?: unknown };
    if (r.command === "status" || r.command === "reload" || r.command === "stop") {
      return { command: r.command };
    }
    if (r.command === "scale" && Number.isInteger(r.workers) && (r.workers as number) >= 1) {
      return { command: "scale", workers: r.workers as number };
    }
  } catch { /* answered below */ }
  return null;
}

/**
 * Listens on `path` so that the socket is 0600 from the first instant it
 * can be reached there. A socket is created with the umask's mode (0777
 * under umask 0) and chmod can only follow; in that gap another user could
 * connect and stop the server. So it is bound inside a fresh 0700 folder
 * beside `path` (the same file system, so it can be renamed), made 0600
 * there, where no one else can reach it, and renamed into place.
 */
async function _listenPrivately(server: Server, path: string): Promise<void> {
  const dir = mkdtempSync(join(dirname(path), ".corral-"));
  try {
    chmodSync(dir, 0o700); // mkdtemp's mode already; said again, as the safety rests on it
    const hidden = join(dir, "s");
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(hidden, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(hidden, 0o600);
    renameSync(hidden, path);
  } catch (err) {
    server.close();
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The control socket: a unix socket only its owner may use (0600 from its first instant). */
export async function openControlSocket(path: string, source: OperationsSource): Promise<Server> {
  try {
    await clearUnixPath({ transport: "unix", path });
  } catch (err) {
    throw new BootError(
      `Cannot open --control-socket "${path}": ${describeError(err).replace(/^Cannot bind "[^"]*": /, "")}`,
    );
  }
  const server = createServer((socket) => {
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      const request = _parseRequest(buffered.slice(0, nl));
      const reply: ControlReply = request ? source.control(request) : {
        ok: false,
        error: 'Unknown request: expected {"command":"status"|"reload"|"stop"|"scale","workers"?:N}',
      };
      socket.end(JSON.stringify(reply) + "\n");
    });
  });
  try {
    await _listenPrivately(server, path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const reason = code === "ENOENT"
      ? `the folder "${dirname(path)}" does not exist`
      : code === "EACCES"
      ? `permission denied: corral creates and renames a file in "${dirname(path)}"`
      : describeError(err);
    throw new BootError(`Cannot open --control-socket "${path}": ${reason}`, { cause: err });
  }
  logger("operations").info("Control socket at: {path}", { path });
  return server;
}

type _Control = { readonly server: Server; readonly path: string };
type _Timer = ReturnType<typeof setInterval>;

/** The metrics server and the control socket of one master, when the settings ask for them. */
export class OperationsServers {
  readonly #metrics: RunningServer | undefined;
  readonly #control: _Control | undefined;
  readonly #sampler: _Timer | undefined;

  private constructor(
    metrics: RunningServer | undefined,
    control: _Control | undefined,
    sampler: _Timer | undefined,
  ) {
    this.#metrics = metrics;
    this.#control = control;
    this.#sampler = sampler;
  }

  /**
   * Starts what the settings name.
   * @throws {BootError} naming the address or path that cannot be used.
   */
  static async start(
    rt: Runtime,
    settings: { readonly metricsBind: TcpAddress | null; readonly controlSocket: string | null },
    source: OperationsSource,
  ): Promise<OperationsServers> {
    const metrics = settings.metricsBind ? serveMetrics(rt, settings.metricsBind, source) : undefined;
    const control = settings.controlSocket
      ? { server: await openControlSocket(settings.controlSocket, source), path: settings.controlSocket }
      : undefined;
    // The req/s history: one point a second, only when someone can look at it.
    const sampler = metrics || control
      ? setInterval(() => source.metrics.sample(source.workers()), 1000)
      : undefined;
    return new OperationsServers(metrics, control, sampler);
  }

  /** Stops both and removes the control socket. */
  close(): void {
    clearInterval(this.#sampler);
    void this.#metrics?.shutdown();
    if (this.#control) {
      this.#control.server.close();
      rmSync(this.#control.path, { force: true });
    }
  }
}
