/** Settings of the processes themselves: their environment, user, group and umask. */
import { findGroup, findUser } from "../users.ts";
import type { ParseContext, Setting } from "../settings.ts";
import { bad, define, one, yesNo } from "./_parse.ts";

/** `KEY=VALUE` values into an object; a later value of a key wins. */
function _keyValues(raw: string[], ctx: ParseContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of raw) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw bad(ctx, item, "expected KEY=VALUE");
    const key = item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw bad(ctx, item, `"${key}" is not a variable name`);
    env[key] = item.slice(eq + 1);
  }
  return env;
}

/** A umask as Gunicorn takes it: octal (`0o22`, `022`), hex (`0x12`) or decimal (`18`). */
export function parseUmask(raw: string, ctx: ParseContext): number {
  const v = raw.trim().toLowerCase();
  let n = NaN;
  if (/^0o[0-7]+$/.test(v)) n = parseInt(v.slice(2), 8);
  else if (/^0[0-7]+$/.test(v)) n = parseInt(v, 8);
  else if (/^0x[0-9a-f]+$/.test(v)) n = parseInt(v.slice(2), 16);
  else if (/^\d+$/.test(v)) n = Number(v);
  if (!Number.isInteger(n)) throw bad(ctx, raw, "expected a umask such as 0o027, 027 or 23");
  if (n > 0o777) throw bad(ctx, raw, "a umask is at most 0o777");
  return n;
}

/** The mechanics settings. */
export const MECHANICS_SETTINGS: readonly Setting[] = [
  define({
    name: "env",
    section: "Server mechanics",
    flags: ["-e", "--env"],
    metavar: "KEY=VALUE",
    multiple: true,
    keyValue: true,
    gunicorn: "raw_env",
    default: {},
    defaultText: "none",
    parse: _keyValues,
    description:
      'Set an environment variable in every worker (repeat the flag for several); in a config file, an object `{ KEY: "value" }`. The app reads it as usual (`Deno.env`, `process.env`).',
  }),
  define({
    name: "user",
    section: "Server mechanics",
    flags: ["-u", "--user"],
    metavar: "USER",
    gunicorn: "user",
    default: null,
    defaultText: "the user corral runs as",
    parse: (raw, ctx) => {
      const v = one(raw).trim();
      const found = findUser(v);
      if (found) return found.uid;
      if (/^\d+$/.test(v)) return Number(v);
      throw bad(ctx, v, "no such user");
    },
    description:
      "Workers switch to this user (a name or a uid) after binding, before loading the app: the master binds ports below 1024 as root and the app never runs as root. Needs corral to start as root; on Deno, --allow-ffi (docs/deploy.md).",
  }),
  define({
    name: "group",
    section: "Server mechanics",
    flags: ["-g", "--group"],
    metavar: "GROUP",
    gunicorn: "group",
    gunicornNote: "without it, workers take --user's own group (Gunicorn keeps the master's)",
    default: null,
    defaultText: "the --user's own group",
    parse: (raw, ctx) => {
      const v = one(raw).trim();
      const found = findGroup(v);
      if (found) return found.gid;
      if (/^\d+$/.test(v)) return Number(v);
      throw bad(ctx, v, "no such group");
    },
    description:
      "Workers switch to this group (a name or a gid). Their other groups are dropped, unless --initgroups.",
  }),
  define({
    name: "umask",
    section: "Server mechanics",
    flags: ["-m", "--umask"],
    metavar: "MASK",
    gunicorn: "umask",
    gunicornNote: "without it, the inherited umask stays (Gunicorn sets 0)",
    default: null,
    defaultText: "the umask corral inherits",
    parse: (raw, ctx) => parseUmask(one(raw), ctx),
    description:
      "The umask of the master and the workers: it decides the mode of the files and unix sockets they create (the pid file, log files, unix sockets).",
  }),
  define({
    name: "initgroups",
    section: "Server mechanics",
    flags: ["--initgroups"],
    metavar: "",
    boolean: true,
    gunicorn: "initgroups",
    gunicornNote: "without it, workers keep no supplementary group (Gunicorn keeps the master's)",
    default: false,
    defaultText: "off",
    parse: yesNo,
    description:
      "Give workers every group --user belongs to (in /etc/group), besides --group, as initgroups(3) does.",
  }),
];
