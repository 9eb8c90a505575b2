/**
 * The attackers of scripts/slow/main.ts, in a process of their own (pinned
 * to another core than the server): `--heads` connections that send a
 * request head one byte a second (slowloris), and `--bodies` that send a
 * whole head announcing a body of `--body-size` bytes (1 MiB), then the
 * body one byte a second.
 * Each notes when the server closed it and whether it answered 408. Prints
 * `connected N in S s` once all are open, then, after `--seconds`, one JSON line
 * ({@link AttackReport}) and exits. Only node: built-ins: runs on Deno and Bun.
 *
 * `<runtime> scripts/slow/_attackers.ts --port P --heads N --bodies N --seconds S`
 * @module
 */
import { connect, type Socket } from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

/** What one kind of attacker saw. */
export interface AttackKind {
  readonly opened: number;
  /** Connections the server closed within the run. */
  readonly closed: number;
  /** Of those, how many got `HTTP/1.1 408` first. */
  readonly answered408: number;
  /** Seconds from connect to the server's close: the fastest, median, 90th percentile, slowest; null: none. */
  readonly closedAfter: readonly [number, number, number, number] | null;
}

/** The JSON line the attackers print at the end. */
export interface AttackReport {
  readonly heads: AttackKind;
  readonly bodies: AttackKind;
  /** Connections that could not be opened (refused, reset before connecting). */
  readonly failed: number;
}

const OPEN_BATCH = 100;
const OPEN_PAUSE_MS = 20;
/** Every connection gets one byte a second, spread over ten slices of 100 ms. */
const DRIP_SLICES = 10;

interface _Conn {
  readonly socket: Socket;
  readonly kind: "heads" | "bodies";
  openedAt: number;
  closedAt: number | null;
  answered408: boolean;
  /** What is left to drip, one byte a second. */
  pending: string;
}

function _open(port: number, kind: _Conn["kind"], index: number, bodyBytes: number): Promise<_Conn | null> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const conn: _Conn = { socket, kind, openedAt: 0, closedAt: null, answered408: false, pending: "" };
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => conn.answered408 ||= d.startsWith("HTTP/1.1 408"));
    socket.on("close", () => conn.closedAt ??= performance.now());
    socket.on("error", () => resolve(null));
    socket.once("connect", () => {
      conn.openedAt = performance.now();
      if (kind === "heads") {
        socket.write(`GET /?i=${index} HTTP/1.1\r\n`);
        conn.pending = "Host: x\r\nUser-Agent: slowloris\r\n".repeat(10) + "\r\n";
      } else {
        socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
        conn.pending = "b".repeat(600);
      }
      resolve(conn);
    });
  });
}

function _kind(conns: readonly _Conn[]): AttackKind {
  const closed = conns.filter((c) => c.closedAt !== null);
  const seconds = closed.map((c) => ((c.closedAt as number) - c.openedAt) / 1000).sort((a, b) => a - b);
  const at = (q: number) => seconds[Math.min(seconds.length - 1, Math.floor(q * seconds.length))] as number;
  return {
    opened: conns.length,
    closed: closed.length,
    answered408: closed.filter((c) => c.answered408).length,
    closedAfter: seconds.length ? [at(0), at(0.5), at(0.9), at(1)] : null,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      port: { type: "string" },
      heads: { type: "string", default: "2000" },
      bodies: { type: "string", default: "200" },
      seconds: { type: "string", default: "30" },
      "body-size": { type: "string", default: String(1024 * 1024) },
    },
  });
  const port = Number(values.port);
  const bodyBytes = Number(values["body-size"]);
  const kinds: _Conn["kind"][] = [
    ...new Array<"heads">(Number(values.heads)).fill("heads"),
    ...new Array<"bodies">(Number(values.bodies)).fill("bodies"),
  ];
  const conns: _Conn[] = [];
  const started = performance.now();
  let failed = 0;
  for (let i = 0; i < kinds.length; i += OPEN_BATCH) {
    const batch = await Promise.all(
      kinds.slice(i, i + OPEN_BATCH).map((k, j) => _open(port, k, i + j, bodyBytes)),
    );
    for (const conn of batch) conn ? conns.push(conn) : failed++;
    await new Promise((r) => setTimeout(r, OPEN_PAUSE_MS));
  }
  process.stdout.write(
    `connected ${conns.length} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  let slice = 0;
  const drip = setInterval(() => {
    for (let i = slice; i < conns.length; i += DRIP_SLICES) {
      const conn = conns[i] as _Conn;
      if (conn.closedAt !== null || conn.pending === "") continue;
      conn.socket.write(conn.pending[0] as string);
      conn.pending = conn.pending.slice(1);
    }
    slice = (slice + 1) % DRIP_SLICES;
  }, 1000 / DRIP_SLICES);
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  clearInterval(drip);
  const report: AttackReport = {
    heads: _kind(conns.filter((c) => c.kind === "heads")),
    bodies: _kind(conns.filter((c) => c.kind === "bodies")),
    failed,
  };
  process.stdout.write(JSON.stringify(report) + "\n");
  for (const conn of conns) conn.socket.destroy();
  process.exit(0);
}

if (import.meta.main) await main();
