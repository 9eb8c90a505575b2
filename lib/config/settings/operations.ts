/** Settings of what operators look at and talk to: metrics, the control socket. */
import { parseAddress } from "../../address.ts";
import type { Setting } from "../settings.ts";
import { bad, define, one, path } from "./_parse.ts";

/** The operations settings. */
export const OPERATIONS_SETTINGS: readonly Setting[] = [
  define({
    name: "metricsBind",
    section: "Operations",
    flags: ["--metrics-bind"],
    metavar: "HOST:PORT",
    default: null,
    defaultText: "off",
    parse: (raw, ctx) => {
      const text = one(raw);
      // A bare :PORT is loopback here, unlike --bind's: the page has no authentication (docs/operations.md).
      const address = parseAddress(text.startsWith(":") ? `127.0.0.1${text}` : text, ctx.source);
      if (address.transport !== "tcp") throw bad(ctx, text, "expected HOST:PORT");
      return address;
    },
    description:
      "The master serves Prometheus metrics at /metrics and a live status page at / on this address, with no authentication. A bare :PORT means 127.0.0.1:PORT; any other interface is logged as a warning at start.",
  }),
  define({
    name: "controlSocket",
    section: "Operations",
    flags: ["--control-socket"],
    metavar: "PATH",
    default: null,
    defaultText: "off",
    parse: (raw, ctx) => path(one(raw), ctx),
    description: "A unix socket (mode 0600) for `corral ctl --socket PATH status|reload|scale N|stop`.",
  }),
];
