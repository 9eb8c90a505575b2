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
      const address = parseAddress(one(raw), ctx.source);
      if (address.transport !== "tcp") throw bad(ctx, one(raw), "expected HOST:PORT");
      return address;
    },
    description:
      "The master serves Prometheus metrics at /metrics and a live status page at / on this address.",
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
