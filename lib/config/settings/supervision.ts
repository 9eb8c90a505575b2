/** Settings of the master's supervision: recycling, hang detection, pid file. */
import type { Setting } from "../settings.ts";
import { define, integer, one, path, seconds } from "./_parse.ts";

/** The supervision settings. */
export const SUPERVISION_SETTINGS: readonly Setting[] = [
  define({
    name: "timeout",
    section: "Worker processes",
    flags: ["-t", "--timeout"],
    gunicorn: "timeout",
    gunicornNote:
      "here it is the worker's event loop that must not block that long (the master watches it through memory the worker stamps); a slow request with an idle loop is fine",
    metavar: "SECONDS",
    default: 30,
    defaultText: "30",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description:
      "A worker whose event loop is blocked (no heartbeat) for longer than this is killed and replaced; the error log names the requests that were in flight in it. A worker not ready this long after it was started (its app still loading, or stuck) is killed too: a failed boot, so a reload falls back to the workers that serve. 0 turns both checks off.",
  }),
  define({
    name: "maxRequests",
    section: "Worker processes",
    flags: ["--max-requests"],
    gunicorn: "max_requests",
    metavar: "INT",
    default: 0,
    defaultText: "0 (never)",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Recycle a worker after it has served this many requests: its replacement starts first, then it drains. 0 turns recycling off.",
  }),
  define({
    name: "maxRequestsJitter",
    section: "Worker processes",
    flags: ["--max-requests-jitter"],
    gunicorn: "max_requests_jitter",
    metavar: "INT",
    default: 0,
    defaultText: "0",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Add random(0..JITTER) to --max-requests for each worker, so that workers do not all recycle at once.",
  }),
  define({
    name: "maxWorkerMemory",
    section: "Worker processes",
    flags: ["--max-worker-memory"],
    metavar: "MB",
    default: 0,
    defaultText: "0 (no limit)",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Recycle a worker gracefully once its resident memory (RSS) passes this many megabytes. 0 turns the check off.",
  }),
  define({
    name: "pidfile",
    section: "Server mechanics",
    flags: ["-p", "--pid"],
    gunicorn: "pidfile",
    metavar: "FILE",
    default: null,
    defaultText: "none",
    parse: (raw, ctx) => path(one(raw), ctx),
    description:
      "Write the master's pid to this file at start and remove it at exit. corral refuses to start while a live process holds it, or when the path is a symbolic link (never followed); at exit it removes the file only if it still holds the master's pid.",
  }),
];
