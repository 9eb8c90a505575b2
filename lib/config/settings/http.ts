/** Settings of the HTTP front: request limits, keep-alive, timeouts, proxies. */
import { parseAllowIps } from "../../worker/front/allow_ips.ts";
import type { ParseContext, Setting } from "../settings.ts";
import { bad, define, integer, one, seconds } from "./_parse.ts";

const _UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size in bytes: a whole number, optionally with k, m or g (powers of 1024). */
export function bytes(raw: string, ctx: ParseContext): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(raw.trim());
  if (!m) throw bad(ctx, raw, "expected a number of bytes, optionally with k, m or g (1m = 1048576)");
  const n = Number(m[1]) * (_UNITS[(m[2] as string).toLowerCase()] as number);
  if (!Number.isSafeInteger(n)) throw bad(ctx, raw, "too large");
  return n;
}

/** The HTTP settings, in the order `--help` lists them. */
export const HTTP_SETTINGS: readonly Setting[] = [
  define({
    name: "limitRequestLine",
    section: "Request limits",
    flags: ["--limit-request-line"],
    gunicorn: "limit_request_line",
    gunicornNote: "0 leaves the runtime's own cap, not unlimited",
    metavar: "INT",
    default: 4094,
    defaultText: "4094",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Longest request line (method, target and version) in bytes; a longer one is answered 414 before the app runs. 0 leaves only the runtime's own cap (Deno 64 KiB, Bun 16 KiB for the whole head).",
  }),
  define({
    name: "limitRequestFields",
    section: "Request limits",
    flags: ["--limit-request-fields"],
    gunicorn: "limit_request_fields",
    gunicornNote:
      "default 0 here: the runtime's own cap (Deno 128, Bun about 200 lines), which also bounds a head's memory; Gunicorn's 100 is `--limit-request-fields 100`",
    metavar: "INT",
    default: 0,
    defaultText: "0 (the runtime's cap)",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Most header fields in a request; more are answered 431 before the app runs. 0 (the default) leaves the runtime's own cap: Deno 128 and Bun about 200 lines, in a head of at most 64 KiB (Deno) or 16 KiB (Bun). Gunicorn's default is 100.",
  }),
  define({
    name: "limitRequestFieldSize",
    section: "Request limits",
    flags: ["--limit-request-field-size"],
    aliases: ["--limit-request-field_size"],
    gunicorn: "limit_request_field_size",
    gunicornNote:
      "default 0 here: the runtime's own cap on the whole head (Deno 64 KiB, Bun 16 KiB); Gunicorn's 8190 is `--limit-request-field-size 8190`",
    metavar: "INT",
    default: 0,
    defaultText: "0 (the runtime's cap)",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Longest header field (name, colon, space and value) in bytes; a longer one is answered 431 before the app runs. 0 (the default) leaves the runtime's own cap on the whole head: 64 KiB on Deno, 16 KiB on Bun. Gunicorn's default is 8190.",
  }),
  define({
    name: "limitRequestBody",
    section: "Request limits",
    flags: ["--limit-request-body"],
    metavar: "BYTES",
    default: 0,
    defaultText: "0 (no limit)",
    parse: (raw, ctx) => bytes(one(raw), ctx),
    description:
      "Largest request body, e.g. 10m. A larger Content-Length is answered 413 before the app runs; a chunked or streamed body is counted as the app reads it and answered 413 once it passes the limit, never buffered. 0: no limit.",
  }),
  define({
    name: "keepAlive",
    section: "Connections and timeouts",
    flags: ["--keep-alive"],
    gunicorn: "keepalive",
    gunicornNote: "Gunicorn's default is 2 s, and its sync workers ignore it",
    metavar: "SECONDS",
    default: 5,
    defaultText: "5",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description:
      "How long an idle keep-alive connection is kept open for its next request; a request in progress is never cut. 0 closes every connection after one response (after a body the app did not read, the runtime decides, so that a client still sending it gets the answer). Enforced on Linux (on Deno with --allow-ffi and /proc readable).",
  }),
  define({
    name: "headerTimeout",
    section: "Connections and timeouts",
    flags: ["--header-timeout"],
    metavar: "SECONDS",
    default: 20,
    defaultText: "20",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description:
      "Slow clients (slowloris): a request head must arrive within this many seconds, plus one per --min-upload-rate bytes received; slower, the client is answered 408 (plain HTTP/1) and the connection closed. A connection that sends nothing is closed after it too. Apache's RequestReadTimeout header=20-40,MinRate=500, without the 40 s cap. 0 turns it off. Enforced on Linux (on Deno with --allow-ffi and /proc readable), as --keep-alive.",
  }),
  define({
    name: "bodyTimeout",
    section: "Connections and timeouts",
    flags: ["--body-timeout"],
    metavar: "SECONDS",
    default: 20,
    defaultText: "20",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description:
      "Slow uploads: once the app has a request, the client may take this many seconds, plus one per --min-upload-rate bytes received, to send it; only the time it spends sending counts, so an app that takes long to answer is never cut. Slower, it is answered 408 (plain HTTP/1) and the connection closed. Apache's body=20,MinRate=500. 0 turns it off.",
  }),
  define({
    name: "minUploadRate",
    section: "Connections and timeouts",
    flags: ["--min-upload-rate"],
    metavar: "BYTES",
    default: 500,
    defaultText: "500",
    parse: (raw, ctx) => {
      const n = bytes(one(raw), ctx);
      if (n < 1) throw bad(ctx, one(raw), "must be at least 1 byte per second");
      return n;
    },
    description:
      "Bytes per second a client sending a request must keep up past --header-timeout and --body-timeout: each such many bytes received give it one more second (Apache's MinRate). At least 1.",
  }),
  define({
    name: "requestTimeout",
    section: "Connections and timeouts",
    flags: ["--request-timeout"],
    metavar: "SECONDS",
    default: 0,
    defaultText: "0 (off)",
    parse: (raw, ctx) => seconds(one(raw), ctx),
    description:
      "A handler that has not returned its response after this long is answered 503 and logged (the handler itself runs on: JavaScript cannot stop it). 0 turns it off.",
  }),
  define({
    name: "maxConcurrency",
    section: "Connections and timeouts",
    flags: ["--max-concurrency"],
    metavar: "INT",
    default: 0,
    defaultText: "0 (no limit)",
    parse: (raw, ctx) => integer(one(raw), ctx, 0),
    description:
      "Most requests a worker runs at once; past it, new requests are answered 503 with Retry-After at once instead of queueing. 0: no limit.",
  }),
  define({
    name: "forwardedAllowIps",
    section: "Proxies",
    flags: ["--forwarded-allow-ips"],
    gunicorn: "forwarded_allow_ips",
    gunicornNote: "the default trusts ::1 too; unix socket peers are always trusted",
    metavar: "IPS",
    env: "FORWARDED_ALLOW_IPS",
    default: ["127.0.0.1", "::1"],
    defaultText: "127.0.0.1,::1",
    parse: (raw, ctx) => {
      const list = raw.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
      try {
        parseAllowIps(list);
      } catch (err) {
        throw bad(ctx, raw.join(","), (err as Error).message);
      }
      return list;
    },
    description:
      "Comma-separated IPs and CIDR networks of the proxies whose X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers are trusted, or * for any peer. Unix socket peers are always trusted. From anyone else the headers reach the app untouched and are not used.",
  }),
];
