/** Settings of the error log and the access log. */
import { compileAccessFormat, DEFAULT_ACCESS_LOG_FORMAT } from "../../worker/front/access_format.ts";
import type { Setting } from "../settings.ts";
import { LOG_FORMATS, LOG_LEVELS } from "../settings.ts";
import { bad, choice, define, one, path } from "./_parse.ts";

/** The logging settings. */
export const LOGGING_SETTINGS: readonly Setting[] = [
  define({
    name: "logLevel",
    section: "Logging",
    flags: ["--log-level"],
    gunicorn: "loglevel",
    metavar: "LEVEL",
    default: "info",
    defaultText: "info",
    parse: (raw, ctx) => choice(one(raw), ctx, LOG_LEVELS),
    description: "Lowest level written to the error log: debug, info, warning, error or critical.",
  }),
  define({
    name: "errorLogfile",
    section: "Logging",
    flags: ["--error-logfile"],
    aliases: ["--log-file"],
    gunicorn: "errorlog",
    metavar: "FILE",
    default: "-",
    defaultText: "- (stderr)",
    parse: (raw, ctx) => one(raw) === "-" ? "-" : path(one(raw), ctx),
    description:
      "The error log: corral's own messages and the app's errors. - means stderr. The file is opened for appending and reopened on USR1.",
  }),
  define({
    name: "logFormat",
    section: "Logging",
    flags: ["--log-format"],
    metavar: "FORMAT",
    default: "text",
    defaultText: "text",
    parse: (raw, ctx) => choice(one(raw), ctx, LOG_FORMATS),
    description:
      "Format of the error log: text (Gunicorn's `[time] [pid] [LEVEL] message`) or json (one object a line, with pid, worker and the message's fields).",
  }),
  define({
    name: "accessLogfile",
    section: "Logging",
    flags: ["--access-logfile"],
    gunicorn: "accesslog",
    metavar: "FILE",
    default: null,
    defaultText: "none (off)",
    parse: (raw, ctx) => one(raw) === "-" ? "-" : path(one(raw), ctx),
    description:
      "The access log: one line per request. - means stdout. Lines are buffered and written at least twice a second; the file is reopened on USR1.",
  }),
  define({
    name: "accessLogFormat",
    section: "Logging",
    flags: ["--access-log-format"],
    aliases: ["--access-logformat"],
    gunicorn: "access_log_format",
    metavar: "FORMAT",
    default: DEFAULT_ACCESS_LOG_FORMAT,
    defaultText: `'${DEFAULT_ACCESS_LOG_FORMAT}'`,
    parse: (raw, ctx) => {
      const format = one(raw);
      try {
        compileAccessFormat(format);
      } catch (err) {
        throw bad(ctx, format, (err as Error).message);
      }
      return format;
    },
    description:
      "Access log line, with Gunicorn's atoms: %(h)s client, %(t)s time, %(r)s request line, %(s)s status, %(b)s bytes, %(f)s referer, %(a)s user agent, %(M)s milliseconds, %({name}i)s a request header, %({name}o)s a response header, and more (docs/http.md); or json.",
  }),
];
