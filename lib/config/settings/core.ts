/** Settings of the server socket, the workers and TLS. */
import { parseAddress } from "../../address.ts";
import type { Setting } from "../settings.ts";
import { bad, define, integer, one, path, seconds } from "./_parse.ts";

/** The core settings, in the order `--help` lists them. */
export const CORE_SETTINGS: readonly Setting[] = [
  define({
    name: "bind",
    section: "Server socket",
    flags: ["-b", "--bind"],
    gunicorn: "bind",
    gunicornNote: "no `fd://FD`: sockets come from systemd through LISTEN_FDS",
    metavar: "ADDRESS",
    multiple: true,
    env: "PORT",
    default: [{ transport: "tcp", hostname: "127.0.0.1", port: 8000 }],
    defaultText: "127.0.0.1:8000, or 0.0.0.0:$PORT when $PORT is set",
    parse: (raw, ctx) => {
      if (ctx.source === "$PORT") {
        const port = one(raw);
        if (!/^\d+$/.test(port)) throw bad(ctx, port, "expected a port number");
        if (Number(port) > 65535) throw bad(ctx, port, `port ${port} is out of range (0-65535)`);
        return [{ transport: "tcp", hostname: "0.0.0.0", port: Number(port) }];
      }
      return raw.map((v) => parseAddress(v, ctx.source));
    },
    description:
      "Address to listen on: HOST, HOST:PORT, [IPV6]:PORT or unix:PATH. Repeat the flag to listen on several.",
  }),
  define({
    name: "workers",
    section: "Worker processes",
    flags: ["-w", "--workers"],
    gunicorn: "workers",
    gunicornNote: "`auto` means one per CPU core",
    metavar: "INT",
    env: "WEB_CONCURRENCY",
    default: 1,
    defaultText: "$WEB_CONCURRENCY, else 1",
    parse: (raw, ctx) => {
      const v = one(raw);
      return v === "auto" ? ctx.cpuCount() : integer(v, ctx, 1);
    },
    description:
      "Number of worker processes, or `auto` for one per CPU core. Each binds every address with SO_REUSEPORT; the kernel spreads connections between them.",
  }),
  define({
    name: "gracefulTimeout",
    section: "Worker processes",
    flags: ["--graceful-timeout"],
    gunicorn: "graceful_timeout",
    metavar: "SECONDS",
    default: 30,
    defaultText: "30",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description: "How long a stopping worker may take to finish its in-flight requests before it is killed.",
  }),
  define({
    name: "chdir",
    section: "Server mechanics",
    flags: ["--chdir"],
    gunicorn: "chdir",
    metavar: "DIR",
    default: ".",
    defaultText: "the current folder",
    parse: (raw, ctx) => path(one(raw), ctx),
    description: "Change to this folder before loading the app; APP_MODULE is resolved from it.",
  }),
  define({
    name: "certfile",
    section: "TLS",
    flags: ["--certfile"],
    gunicorn: "certfile",
    metavar: "FILE",
    default: null,
    defaultText: "none",
    parse: (raw, ctx) => path(one(raw), ctx),
    description: "PEM certificate (chain) file. With --keyfile, every TCP address serves HTTPS.",
  }),
  define({
    name: "keyfile",
    section: "TLS",
    flags: ["--keyfile"],
    gunicorn: "keyfile",
    metavar: "FILE",
    default: null,
    defaultText: "none",
    parse: (raw, ctx) => path(one(raw), ctx),
    description: "PEM private key file for --certfile.",
  }),
];
