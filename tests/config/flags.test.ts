/** What a Gunicorn user types, and what --help shows (lib/config/flags.ts). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { helpText } from "../../lib/config/config.ts";
import { settings, usageError } from "./_helpers.ts";

describe("the flags a Gunicorn user types", () => {
  test("Gunicorn's spellings are aliases of corral's flags", () => {
    const s = settings([
      "--access-logformat",
      "%(h)s %(s)s",
      "--log-file",
      "/var/log/e.log",
      "--limit-request-field_size",
      "100",
      "app.ts",
    ]);
    assert.equal(s.accessLogFormat, "%(h)s %(s)s");
    assert.equal(s.errorLogfile, "/var/log/e.log");
    assert.equal(s.limitRequestFieldSize, 100);
  });

  test("an alias and corral's flag are one setting: the later one wins", () => {
    assert.equal(
      settings(["--log-file", "a.log", "--error-logfile", "b.log", "app.ts"]).errorLogfile,
      "b.log",
    );
    assert.equal(settings(["--error-logfile", "b.log", "--log-file=a.log", "app.ts"]).errorLogfile, "a.log");
  });

  test("-e/--env KEY=VALUE sets variables, the later value of a key winning", () => {
    const s = settings(["-e", "A=1", "--env", "B=x=y", "--env=A=2", "app.ts"]);
    assert.deepEqual(s.env, { A: "2", B: "x=y" });
    assert.match(
      usageError(["-e", "NOVALUE", "app.ts"]).message,
      /Invalid value for -e\/--env: "NOVALUE": expected KEY=VALUE/,
    );
    assert.match(usageError(["-e", "1A=x", "app.ts"]).message, /"1A" is not a variable name/);
  });

  test("an unknown flag gets the closest known one, Gunicorn's spellings included", () => {
    assert.equal(
      usageError(["--wokers", "2", "app.ts"]).message,
      'Unknown option "--wokers" (did you mean --workers?)',
    );
    assert.match(
      usageError(["--access-logformatt", "x", "app.ts"]).message,
      /did you mean --access-logformat\?/,
    );
    assert.equal(usageError(["--zzzzzzzz", "app.ts"]).message, 'Unknown option "--zzzzzzzz"');
    assert.equal(usageError(["-x", "app.ts"]).message, 'Unknown option "-x"');
  });

  test("a negative number is a value, refused with the reason", () => {
    assert.equal(
      usageError(["-w", "-1", "app.ts"]).message,
      'Invalid value for -w/--workers: "-1": must be at least 1, not negative',
    );
    assert.match(
      usageError(["--max-requests", "-5", "app.ts"]).message,
      /"-5": must be at least 0, not negative/,
    );
    assert.match(
      usageError(["-t", "-1", "app.ts"]).message,
      /-t\/--timeout: "-1": a number of seconds cannot be negative/,
    );
  });

  test("a flag followed by another flag is missing its value", () => {
    assert.equal(usageError(["-w", "--reload", "app.ts"]).message, "Missing value for -w/--workers");
    assert.equal(usageError(["app.ts", "--bind"]).message, "Missing value for -b/--bind");
  });

  test("-u/--user and -g/--group take names or ids; unknown names are refused", () => {
    const s = settings(["-u", "nobody", "-g", "0", "app.ts"]);
    assert.equal(s.user, 65534);
    assert.equal(s.group, 0);
    assert.equal(settings(["--user", "0", "--group", "root", "app.ts"]).group, 0);
    assert.equal(settings(["-u", "4242", "app.ts"]).user, 4242, "an id no database knows is taken as it is");
    assert.match(
      usageError(["-u", "no-such-user-x", "app.ts"]).message,
      /-u\/--user: "no-such-user-x": no such user/,
    );
    assert.match(usageError(["-g", "no-such-group-x", "app.ts"]).message, /no such group/);
    assert.equal(usageError(["--initgroups", "app.ts"]).message, "--initgroups needs -u/--user");
  });

  test("-m/--umask takes octal, hex or decimal, as Gunicorn does", () => {
    assert.equal(settings(["-m", "027", "app.ts"]).umask, 0o27);
    assert.equal(settings(["-m", "0o077", "app.ts"]).umask, 0o77);
    assert.equal(settings(["-m", "0x12", "app.ts"]).umask, 0x12);
    assert.equal(settings(["--umask", "18", "app.ts"]).umask, 18);
    assert.equal(settings(["app.ts"]).umask, null);
    assert.match(usageError(["-m", "0o1000", "app.ts"]).message, /at most 0o777/);
    assert.match(usageError(["-m", "rw", "app.ts"]).message, /expected a umask/);
  });
});

describe("helpText's sections and commands", () => {
  const help = helpText();
  test("names each section once", () => {
    const headings = help.split("\n").filter((l) => /^[A-Z][\w ]+:$/.test(l));
    assert.deepEqual(headings, [...new Set(headings)], help);
    assert.ok(headings.includes("Worker processes:") && headings.includes("Server mechanics:"));
  });
  test("mentions `ctl` and Gunicorn's aliases", () => {
    assert.match(help, /corral ctl --socket PATH status\|reload\|scale N\|stop/);
    assert.match(help, /also --access-logformat, as Gunicorn spells it/);
  });
});
