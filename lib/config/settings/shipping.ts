/** Settings of shipping: the config file, development reload, checking and printing the config. */
import type { ParseContext, Setting } from "../settings.ts";
import { bad, define, one, path } from "./_parse.ts";

/** A yes/no value: `true` from a bare flag, `true`/`false` from a config file. */
function _flag(raw: string[], ctx: ParseContext): boolean {
  const v = one(raw).trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw bad(ctx, one(raw), "expected true or false");
}

/** The shipping settings. */
export const SHIPPING_SETTINGS: readonly Setting[] = [
  define({
    name: "config",
    section: "Config file",
    flags: ["-c", "--config"],
    metavar: "FILE",
    cliOnly: true,
    default: null,
    defaultText: "./corral.config.ts (or .js, .json) when it exists",
    parse: (raw, ctx) => path(one(raw), ctx),
    description:
      "A config module (`.ts`, `.js` or `.json`) whose default export holds settings by the camelCase name of their long flag (`maxRequests`) and server hooks. The environment comes before it, `CORRAL_CMD_ARGS` and the command line after it.",
  }),
  define({
    name: "reload",
    section: "Debugging",
    flags: ["--reload"],
    metavar: "",
    boolean: true,
    default: false,
    defaultText: "off",
    parse: _flag,
    description:
      "Development mode: when a file under the app's folder (or the config file) changes, the workers are replaced, one generation after the other, as on HUP. The changed file is logged.",
  }),
  define({
    name: "checkConfig",
    section: "Debugging",
    flags: ["--check-config"],
    metavar: "",
    boolean: true,
    cliOnly: true,
    default: false,
    defaultText: "off",
    parse: _flag,
    description:
      "Load the settings and the app, then exit: 0 when both are fine, 1 with the reason otherwise.",
  }),
  define({
    name: "printConfig",
    section: "Debugging",
    flags: ["--print-config"],
    metavar: "",
    boolean: true,
    cliOnly: true,
    default: false,
    defaultText: "off",
    parse: _flag,
    description: "Print the resolved settings, one `name = value` a line, and exit.",
  }),
];
