/**
 * sd_notify: tells systemd (a `Type=notify` unit) when the master is
 * ready, reloading and stopping, with one datagram each to the unix socket
 * named by `$NOTIFY_SOCKET`.
 *
 * The master sends them itself, over libc (lib/runtime/datagram_*.ts):
 * systemd's default `NotifyAccess=main` only believes the main pid, so
 * spawning `systemd-notify` would need `NotifyAccess=all`; Deno's own
 * datagram API needs --unstable-net, and Bun and node:dgram have none.
 *
 * A USR2 upgrade moves the main pid: the old master, still the main
 * process, says `MAINPID=` of the new one as it begins to drain, and not
 * `STOPPING=1` (systemd would take the service as stopping and kill the
 * new master with the rest of the unit once the old one exits).
 * @module
 */
import process from "node:process";
import { describeError } from "../errors.ts";
import { logger } from "../log.ts";
import { type LibcCalls, monotonicMicros, openUnixDatagram, type UnixDatagram } from "../runtime/_libc.ts";
import { runtime } from "../runtime/mod.ts";

export type { UnixDatagram } from "../runtime/_libc.ts";

/** What the master tells its service manager. */
export interface ServiceNotifier {
  /**
   * Serving: after the first generation is up, and after each reload.
   * `mainPid`: this process is the service's main process from now on (a
   * new master of a USR2 upgrade; systemd takes it with NotifyAccess=all).
   */
  ready(status?: string, mainPid?: number): void;
  /**
   * The service's main process is now `pid` (the new master of a USR2
   * upgrade), said by the main process as it hands over: systemd takes it
   * from there with its default NotifyAccess=main, and the exit that
   * follows is no longer the service's.
   */
  handOver(pid: number, status: string): void;
  /** A reload (HUP) began; `ready()` follows when it is done. */
  reloading(): void;
  /** A stop began. */
  stopping(): void;
}

async function _libc(): Promise<LibcCalls> {
  const mod = runtime.name === "bun"
    ? await import("../runtime/datagram_bun.ts")
    : await import("../runtime/datagram_deno.ts");
  return mod.openLibc();
}

/**
 * Opens a unix datagram socket, bound to `bindPath` when given. A test (or
 * a supervisor) binds one and hands its path to corral as `NOTIFY_SOCKET`.
 *
 * @example
 * ```ts
 * const socket = await openDatagramSocket("/tmp/notify.sock");
 * const message = socket.receive(); // Uint8Array, or null when none is waiting
 * socket.close();
 * ```
 * @throws {Error} when libc cannot be used (Deno without --allow-ffi) or the bind fails.
 */
export async function openDatagramSocket(bindPath?: string): Promise<UnixDatagram> {
  return openUnixDatagram(await _libc(), bindPath);
}

/** Sends sd_notify messages to `$NOTIFY_SOCKET`; a failed send is logged once, never thrown. */
export class SystemdNotifier implements ServiceNotifier {
  readonly path: string;
  readonly #socket: UnixDatagram;
  readonly #libc: LibcCalls;
  readonly #log = logger("notify");
  #warned = false;

  private constructor(path: string, socket: UnixDatagram, libc: LibcCalls) {
    this.path = path;
    this.#socket = socket;
    this.#libc = libc;
  }

  /**
   * The notifier for `$NOTIFY_SOCKET`, or null when it is not set (not
   * started by systemd, or not `Type=notify`).
   *
   * @example
   * ```ts
   * const notifier = await SystemdNotifier.fromEnv();
   * notifier?.ready();
   * ```
   */
  static async fromEnv(
    env: (name: string) => string | undefined = (name) => process.env[name],
  ): Promise<SystemdNotifier | null> {
    const path = env("NOTIFY_SOCKET");
    if (!path) return null;
    try {
      const libc = await _libc();
      return new SystemdNotifier(path, openUnixDatagram(libc), libc);
    } catch (err) {
      logger("notify").warning("NOTIFY_SOCKET is set but corral cannot notify systemd: {message}", {
        message: describeError(err),
      });
      return null;
    }
  }

  /** Sends one message of `KEY=VALUE` lines; false when it could not be sent. */
  notify(fields: Readonly<Record<string, string | number | bigint>>): boolean {
    const text = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
    try {
      this.#socket.send(this.path, new TextEncoder().encode(text));
      this.#log.debug("Notified systemd: {text}", { text: text.trim().replaceAll("\n", " ") });
      return true;
    } catch (err) {
      if (!this.#warned) {
        this.#warned = true;
        this.#log.warning("Cannot notify systemd at {path}: {message}", {
          path: this.path,
          message: describeError(err),
        });
      }
      return false;
    }
  }

  ready(status = "Serving", mainPid?: number): void {
    this.notify({ READY: 1, ...(mainPid ? { MAINPID: mainPid } : {}), STATUS: status });
  }

  handOver(pid: number, status: string): void {
    this.notify({ MAINPID: pid, STATUS: status });
  }

  reloading(): void {
    // Type=notify-reload matches RELOADING=1 to the reload by this clock.
    this.notify({ RELOADING: 1, MONOTONIC_USEC: monotonicMicros(this.#libc), STATUS: "Reloading" });
  }

  stopping(): void {
    this.notify({ STOPPING: 1, STATUS: "Stopping" });
  }

  /** Closes the socket. */
  close(): void {
    this.#socket.close();
  }
}
