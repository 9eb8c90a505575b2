/**
 * What scripts/bench/main.ts's TCP table serves: each workload is an app
 * module, the request the load sends, and the answer the servers must give
 * (the app's own, asked in this process) before they are measured.
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Reply } from "./_http.ts";
import { ROOT } from "./_options.ts";

/** A workload's name, as `--workloads` takes it. */
export type WorkloadName = "hello" | "hono";

/** One app and the request that loads it. */
export interface Workload {
  readonly name: WorkloadName;
  /** The app module, from the repository's root. */
  readonly module: string;
  /** The request's path and query. */
  readonly path: string;
  /** Header fields every request carries (`Name: value`). */
  readonly headers: readonly string[];
  /** Response header fields the check compares besides the body and status. */
  readonly checked: readonly string[];
}

/** Every workload, by name. */
export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  // Reads nothing of the request: whatever corral reads is its own cost.
  hello: {
    name: "hello",
    module: "examples/hello.ts",
    path: "/",
    headers: [],
    checked: ["content-type"],
  },
  // Issue #17's real app: a middleware, a route with a parameter and a query, a header read, JSON.
  hono: {
    name: "hono",
    module: "scripts/bench/apps/hono_api.ts",
    path: "/users/42?fields=name,email",
    headers: ["Accept: application/json"],
    checked: ["content-type", "x-api-version"],
  },
};

/** What a server must answer to a workload's request. */
export interface Expected {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The answer of the workload's app, asked in this process. */
export async function expectedReply(workload: Workload): Promise<Expected> {
  const app = (await import(pathToFileURL(join(ROOT, workload.module)).href)).default as {
    fetch(request: Request): Response | Promise<Response>;
  };
  const headers = new Headers(workload.headers.map((h) => {
    const colon = h.indexOf(":");
    return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()] as [string, string];
  }));
  const response = await app.fetch(new Request(`http://127.0.0.1${workload.path}`, { headers }));
  return {
    status: response.status,
    body: await response.text(),
    headers: Object.fromEntries(workload.checked.map((name) => [name, response.headers.get(name) ?? ""])),
  };
}

/** Why `reply` is not `expected`, or null when it is. */
export function replyMismatch(reply: Reply, expected: Expected): string | null {
  const wrong = Object.entries(expected.headers).filter(([name, value]) => reply.headers[name] !== value);
  if (reply.status === expected.status && reply.body === expected.body && wrong.length === 0) return null;
  return `${reply.status} ${JSON.stringify(reply.headers)} ${JSON.stringify(reply.body)} ` +
    `(expected ${expected.status} ${JSON.stringify(expected.headers)} ${JSON.stringify(expected.body)})`;
}
