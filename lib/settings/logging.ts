/** Settings of the error log and the access log. */
import type { Setting } from "../settings.ts";
import { LOG_LEVELS } from "../settings.ts";
import { choice, define, one } from "./_parse.ts";

/** The logging settings. */
export const LOGGING_SETTINGS: readonly Setting[] = [
  define({
    name: "logLevel",
    section: "Logging",
    flags: ["--log-level"],
    metavar: "LEVEL",
    default: "info",
    defaultText: "info",
    parse: (raw, ctx) => choice(one(raw), ctx, LOG_LEVELS),
    description: "Lowest level written to the error log: debug, info, warning, error or critical.",
  }),
];
