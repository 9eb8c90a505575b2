/** Settings of shipping: the config file, development reload, checking and printing the config. */
import type { Setting } from "../settings.ts";
import { define, one, path, yesNo } from "./_parse.ts";

/** The shipping settings. */
export const SHIPPING_SETTINGS: readonly Setting[] = [
  define({
    name: "config",
    section: "Config file",
    flags: ["-c", "--config"],
    gunicorn: "config",
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
    gunicorn: "reload",
    gunicornNote: "workers are replaced one generation after the other, as on HUP",
    metavar: "",
    boolean: true,
    default: false,
    defaultText: "off",
    parse: yesNo,
    description:
      "Development mode: when a file under the app's folder (or the config file) changes, the workers are replaced, one generation after the other, as on HUP. The changed file is logged.",
  }),
  define({
    name: "checkConfig",
    section: "Debugging",
    flags: ["--check-config"],
    gunicorn: "check_config",
    metavar: "",
    boolean: true,
    cliOnly: true,
    default: false,
    defaultText: "off",
    parse: yesNo,
    description:
      "Load the settings and the app, then exit: 0 when both are fine, 1 with the reason otherwise.",
  }),
  define({
    name: "printConfig",
    section: "Debugging",
    flags: ["--print-config"],
    gunicorn: "print_config",
    metavar: "",
    boolean: true,
    cliOnly: true,
    default: false,
    defaultText: "off",
    parse: yesNo,
    description: "Print the resolved settings, one `name = value` a line, and exit.",
  }),
];
