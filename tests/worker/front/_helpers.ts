/** What the front's unit tests share. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AccessRecord } from "../../../lib/worker/front/access_format.ts";
import { AccessLog } from "../../../lib/worker/front/access_log.ts";
import type { Handler, RemoteAddr, ServeInfo } from "../../../lib/runtime/types.ts";

export const PEER: ServeInfo = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 } };

/** A handler's answer, which these handlers always give. */
export async function answer(result: ReturnType<Handler>): Promise<Response> {
  const response = await result;
  assert.ok(response instanceof Response, "a Response");
  return response;
}

/** An access log record of `request` answered by `response`. */
export function record(
  request: Request,
  response: Response,
  ms = 1.5,
  remote: RemoteAddr = PEER.remoteAddr,
): AccessRecord {
  return { request, info: { remoteAddr: remote }, response, ms, time: Date.UTC(2026, 10, 26, 5, 2, 37) };
}

/** Gunicorn's limits, with `overrides`. */
export function limits(overrides: Partial<Record<"line" | "fields" | "fieldSize" | "body", number>> = {}) {
  return { line: 4094, fields: 100, fieldSize: 8190, body: 0, ...overrides };
}

/** Runs `use` with an access log in a fresh temporary folder; closes and removes both after. */
export async function withLogFile(
  format: string,
  use: (log: AccessLog, path: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "corral-front-"));
  const path = join(dir, "access.log");
  const log = AccessLog.open(path, format);
  try {
    await use(log, path);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
