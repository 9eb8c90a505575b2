/** The command line and the environment, parsed into settings. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { helpText, parseCommandLine } from "../../lib/config/config.ts";
import { defaultSettings, flagLabel, LOG_LEVELS, SETTINGS } from "../../lib/config/settings.ts";
import { environment, serve, settings, usageError } from "./_helpers.ts";

describe("parseCommandLine", () => {
  test("serves APP_MODULE with every default when given nothing else", () => {
    const inv = serve(["app.ts"]);
    assert.deepEqual(inv.app, { module: "app.ts", exportName: "default" });
    assert.deepEqual(inv.settings, defaultSettings());
    assert.equal(inv.settings.workers, 1);
    assert.deepEqual(inv.settings.bind, [{ transport: "tcp", hostname: "127.0.0.1", port: 8000 }]);
    assert.equal(inv.settings.chdir, ".");
    assert.equal(inv.settings.certfile, null);
    assert.equal(inv.settings.keyfile, null);
    assert.equal(inv.settings.gracefulTimeout, 30);
    assert.equal(inv.settings.logLevel, "info");
  });

  test("gives every parse its own copy of the defaults", () => {
    const first = settings(["app.ts"]);
    first.bind.push({ transport: "unix", path: "/tmp/x.sock" });
    assert.equal(settings(["app.ts"]).bind.length, 1);
  });

  test("reads options before and after APP_MODULE", () => {
    assert.equal(settings(["app.ts", "-w", "3"]).workers, 3);
    assert.equal(settings(["-w", "3", "app.ts"]).workers, 3);
  });
});

describe("-w/--workers", () => {
  test("takes a count as -w N, --workers N and --workers=N", () => {
    assert.equal(settings(["-w", "2", "app.ts"]).workers, 2);
    assert.equal(settings(["--workers", "5", "app.ts"]).workers, 5);
    assert.equal(settings(["--workers=7", "app.ts"]).workers, 7);
  });

  test("-w auto starts one worker per CPU core", () => {
    assert.equal(serve(["-w", "auto", "app.ts"], {}, 6).settings.workers, 6);
  });

  test("keeps the last value when given twice", () => {
    assert.equal(settings(["-w", "2", "-w", "3", "app.ts"]).workers, 3);
  });

  test("-w 0 is a usage error naming the flag and the value", () => {
    const err = usageError(["-w", "0", "app.ts"]);
    assert.match(err.message, /-w\/--workers: "0"/);
    assert.match(err.message, /at least 1/);
  });

  test("-w abc is a usage error naming the flag and the value", () => {
    const err = usageError(["-w", "abc", "app.ts"]);
    assert.match(err.message, /-w\/--workers: "abc"/);
    assert.match(err.message, /whole number/);
  });

  test("rejects fractions, negatives and an empty value", () => {
    for (const value of ["1.5", "-1", "", "2x"]) {
      assert.match(usageError([`--workers=${value}`, "app.ts"]).message, /-w\/--workers/, value);
    }
  });

  test("-w without a value is a usage error naming the flag", () => {
    assert.match(usageError(["app.ts", "-w"]).message, /--workers/);
  });
});

describe("-b/--bind", () => {
  test("takes HOST:PORT, [IPV6]:PORT, HOST and unix:PATH", () => {
    assert.deepEqual(settings(["-b", "0.0.0.0:9000", "app.ts"]).bind, [
      { transport: "tcp", hostname: "0.0.0.0", port: 9000 },
    ]);
    assert.deepEqual(settings(["--bind", "[::1]:81", "app.ts"]).bind, [
      { transport: "tcp", hostname: "::1", port: 81 },
    ]);
    assert.deepEqual(settings(["--bind=localhost", "app.ts"]).bind, [
      { transport: "tcp", hostname: "localhost", port: 8000 },
    ]);
    assert.deepEqual(settings(["-b", "unix:/tmp/corral.sock", "app.ts"]).bind, [
      { transport: "unix", path: "/tmp/corral.sock" },
    ]);
  });

  test("is repeatable: every -b adds an address, in order", () => {
    assert.deepEqual(
      settings(["-b", "127.0.0.1:8001", "--bind", "unix:/tmp/a.sock", "-b", "[::1]:8002", "app.ts"]).bind,
      [
        { transport: "tcp", hostname: "127.0.0.1", port: 8001 },
        { transport: "unix", path: "/tmp/a.sock" },
        { transport: "tcp", hostname: "::1", port: 8002 },
      ],
    );
  });

  test("-b 127.0.0.1:99999 is a usage error naming the flag and the value", () => {
    const err = usageError(["-b", "127.0.0.1:99999", "app.ts"]);
    assert.match(err.message, /-b\/--bind: "127.0.0.1:99999"/);
    assert.match(err.message, /out of range/);
  });

  test("one bad address among several is named", () => {
    assert.match(usageError(["-b", ":8000", "-b", "host:http", "app.ts"]).message, /-b\/--bind: "host:http"/);
  });
});

describe("--chdir", () => {
  test("takes a folder", () => {
    assert.equal(settings(["--chdir", "/srv/app", "app.ts"]).chdir, "/srv/app");
  });

  test("expands a leading ~ from $HOME", () => {
    assert.equal(settings(["--chdir=~/site", "app.ts"], { HOME: "/home/ann" }).chdir, "/home/ann/site");
    assert.equal(settings(["--chdir=~", "app.ts"], { HOME: "/home/ann" }).chdir, "/home/ann");
  });

  test("refuses ~ when $HOME is not set, naming the flag", () => {
    const err = usageError(["--chdir=~/site", "app.ts"]);
    assert.match(err.message, /--chdir: "~\/site"/);
    assert.match(err.message, /\$HOME is not set/);
  });

  test("refuses an empty folder name", () => {
    assert.match(usageError(["--chdir=", "app.ts"]).message, /--chdir: ""/);
  });
});

describe("--certfile and --keyfile", () => {
  test("take the pair of PEM files, expanding ~", () => {
    const s = settings(["--certfile", "~/cert.pem", "--keyfile", "/etc/key.pem", "app.ts"], {
      HOME: "/home/ann",
    });
    assert.equal(s.certfile, "/home/ann/cert.pem");
    assert.equal(s.keyfile, "/etc/key.pem");
  });

  test("--certfile without --keyfile is a usage error", () => {
    assert.match(usageError(["--certfile", "cert.pem", "app.ts"]).message, /--certfile needs --keyfile/);
  });

  test("--keyfile without --certfile is a usage error", () => {
    assert.match(usageError(["--keyfile", "key.pem", "app.ts"]).message, /--keyfile needs --certfile/);
  });

  test("an empty file name is refused, naming the flag", () => {
    assert.match(usageError(["--certfile=", "--keyfile=k.pem", "app.ts"]).message, /--certfile: ""/);
    assert.match(usageError(["--certfile=c.pem", "--keyfile=", "app.ts"]).message, /--keyfile: ""/);
  });
});

describe("--graceful-timeout", () => {
  test("takes seconds, including 0 and fractions", () => {
    assert.equal(settings(["--graceful-timeout", "10", "app.ts"]).gracefulTimeout, 10);
    assert.equal(settings(["--graceful-timeout", "0", "app.ts"]).gracefulTimeout, 0);
    assert.equal(settings(["--graceful-timeout", "2.5", "app.ts"]).gracefulTimeout, 2.5);
  });

  test("rejects words, negatives, infinity and an empty value, naming the flag", () => {
    for (const value of ["soon", "-1", "Infinity", "", " "]) {
      const err = usageError([`--graceful-timeout=${value}`, "app.ts"]);
      assert.match(err.message, new RegExp(`--graceful-timeout: "${value}"`), value);
    }
  });
});

describe("--header-timeout, --body-timeout, --min-upload-rate", () => {
  test("default to Apache mod_reqtimeout's 20 s and 500 bytes/s", () => {
    const s = settings(["app.ts"]);
    assert.deepEqual([s.headerTimeout, s.bodyTimeout, s.minUploadRate], [20, 20, 500]);
  });

  test("take seconds (0 turns a timeout off) and a rate in bytes, with k", () => {
    const s = settings([
      "--header-timeout",
      "0",
      "--body-timeout",
      "2.5",
      "--min-upload-rate",
      "1k",
      "app.ts",
    ]);
    assert.deepEqual([s.headerTimeout, s.bodyTimeout, s.minUploadRate], [0, 2.5, 1024]);
  });

  test("a rate of 0, or a negative timeout, is a usage error naming the flag", () => {
    assert.match(
      usageError(["--min-upload-rate", "0", "app.ts"]).message,
      /--min-upload-rate: "0": must be at least 1/,
    );
    assert.match(usageError(["--header-timeout=-1", "app.ts"]).message, /--header-timeout: "-1"/);
    assert.match(usageError(["--body-timeout", "soon", "app.ts"]).message, /--body-timeout: "soon"/);
  });
});

describe("--log-level", () => {
  test("takes every Gunicorn level name, in any case", () => {
    for (const level of LOG_LEVELS) {
      assert.equal(settings(["--log-level", level, "app.ts"]).logLevel, level);
    }
    assert.equal(settings(["--log-level", "WARNING", "app.ts"]).logLevel, "warning");
  });

  test("rejects an unknown level and lists the valid ones", () => {
    const err = usageError(["--log-level", "verbose", "app.ts"]);
    assert.match(err.message, /--log-level: "verbose"/);
    assert.match(err.message, /debug, info, warning, error, critical/);
  });
});

describe("environment variables", () => {
  test("WEB_CONCURRENCY sets the worker count, and auto works there too", () => {
    assert.equal(settings(["app.ts"], { WEB_CONCURRENCY: "3" }).workers, 3);
    assert.equal(serve(["app.ts"], { WEB_CONCURRENCY: "auto" }, 8).settings.workers, 8);
  });

  test("-w overrides WEB_CONCURRENCY", () => {
    assert.equal(settings(["-w", "2", "app.ts"], { WEB_CONCURRENCY: "3" }).workers, 2);
  });

  test("PORT binds every interface on that port", () => {
    assert.deepEqual(settings(["app.ts"], { PORT: "5000" }).bind, [
      { transport: "tcp", hostname: "0.0.0.0", port: 5000 },
    ]);
  });

  test("-b replaces the PORT address instead of adding to it", () => {
    assert.deepEqual(settings(["-b", "127.0.0.1:9000", "app.ts"], { PORT: "5000" }).bind, [
      { transport: "tcp", hostname: "127.0.0.1", port: 9000 },
    ]);
  });

  test("an empty variable counts as unset", () => {
    const s = settings(["app.ts"], { WEB_CONCURRENCY: "", PORT: "" });
    assert.equal(s.workers, 1);
    assert.deepEqual(s.bind, [{ transport: "tcp", hostname: "127.0.0.1", port: 8000 }]);
  });

  test("an invalid WEB_CONCURRENCY is a usage error naming the variable", () => {
    for (const value of ["0", "many"]) {
      const err = usageError(["app.ts"], { WEB_CONCURRENCY: value });
      assert.match(err.message, new RegExp(`\\$WEB_CONCURRENCY: "${value}"`));
      assert.doesNotMatch(err.message, /--workers/);
    }
  });

  test("an invalid PORT is a usage error naming the variable", () => {
    assert.match(usageError(["app.ts"], { PORT: "http" }).message, /\$PORT\b.*"http"/);
    assert.match(usageError(["app.ts"], { PORT: "70000" }).message, /\$PORT\b.*out of range/);
  });

  test(
    "an invalid variable does not matter when the command line sets that setting",
    {},
    () => {
      assert.equal(settings(["-w", "2", "app.ts"], { WEB_CONCURRENCY: "many" }).workers, 2);
      assert.equal(settings(["-b", ":9000", "app.ts"], { PORT: "http" }).bind.length, 1);
    },
  );
});

describe("APP_MODULE", () => {
  test("is required", () => {
    assert.match(usageError([]).message, /Missing APP_MODULE/);
    assert.match(usageError(["-w", "2"]).message, /Missing APP_MODULE/);
  });

  test("only one is accepted; the message lists what was given", () => {
    const err = usageError(["a.ts", "b.ts"]);
    assert.match(err.message, /one APP_MODULE, got 2: a\.ts b\.ts/);
  });

  test("an unknown long or short flag is a usage error naming it", () => {
    assert.match(usageError(["--threads", "4", "app.ts"]).message, /--threads/);
    assert.match(usageError(["-x", "app.ts"]).message, /"-x"/);
  });

  test("a module without :NAME serves its default export", () => {
    assert.deepEqual(serve(["examples/hello.ts"]).app, {
      module: "examples/hello.ts",
      exportName: "default",
    });
  });

  test("APP_MODULE:NAME serves export NAME of a file", () => {
    assert.deepEqual(serve(["examples/hello.ts:app"]).app, {
      module: "examples/hello.ts",
      exportName: "app",
    });
    assert.deepEqual(serve(["./app.ts:$handler"]).app, { module: "./app.ts", exportName: "$handler" });
    assert.deepEqual(serve(["/srv/app.ts:api_v2"]).app, { module: "/srv/app.ts", exportName: "api_v2" });
  });

  test(
    "APP_MODULE:NAME works for a bare file name in the current folder",
    {},
    () => {
      assert.deepEqual(serve(["app.ts:handler"]).app, { module: "app.ts", exportName: "handler" });
      assert.deepEqual(serve(["server.mjs:app"]).app, { module: "server.mjs", exportName: "app" });
    },
  );

  test("a URL with a port stays whole", () => {
    assert.deepEqual(serve(["http://h:8080/app.ts"]).app, {
      module: "http://h:8080/app.ts",
      exportName: "default",
    });
  });

  test("a URL can name an export after its last colon", () => {
    assert.deepEqual(serve(["https://h/app.ts:handler"]).app, {
      module: "https://h/app.ts",
      exportName: "handler",
    });
    assert.deepEqual(serve(["http://h:8080/app.ts:api"]).app, {
      module: "http://h:8080/app.ts",
      exportName: "api",
    });
    assert.deepEqual(serve(["file:///srv/app.ts:api"]).app, {
      module: "file:///srv/app.ts",
      exportName: "api",
    });
  });

  test("a specifier that is only scheme:name stays whole", () => {
    assert.deepEqual(serve(["npm:myapp"]).app, { module: "npm:myapp", exportName: "default" });
  });

  test("a Windows drive letter is not taken for an export name", () => {
    assert.deepEqual(serve(["C:\\srv\\app.ts"]).app, { module: "C:\\srv\\app.ts", exportName: "default" });
    assert.deepEqual(serve(["C:\\srv\\app.ts:api"]).app, { module: "C:\\srv\\app.ts", exportName: "api" });
  });
});

describe("--help and --version", () => {
  test("--help and -h ask for help without needing APP_MODULE", () => {
    assert.deepEqual(parseCommandLine(["--help"], environment()), { action: "help" });
    assert.deepEqual(parseCommandLine(["-h"], environment()), { action: "help" });
  });

  test("--version and -v ask for the version without needing APP_MODULE", () => {
    assert.deepEqual(parseCommandLine(["--version"], environment()), { action: "version" });
    assert.deepEqual(parseCommandLine(["-v"], environment()), { action: "version" });
  });

  test("--help is answered before other values are checked", () => {
    assert.deepEqual(parseCommandLine(["-w", "0", "--help"], environment({ PORT: "x" })), { action: "help" });
  });
});

describe("helpText", () => {
  const help = helpText();
  const lines = help.split("\n");

  test("lists every flag of the settings table, with its value name if it takes one", () => {
    for (const s of SETTINGS) {
      const flags = s.flags.join(", ");
      // A flag without a value (`--check-config`) is listed without its metavar.
      const listed = lines.some((line) => line.trim() === `${flags} ${s.metavar}` || line.trim() === flags);
      assert.ok(listed, `no line "${flags} ${s.metavar}" for ${flagLabel(s)} in:\n${help}`);
    }
  });

  test("shows every setting's default and environment variable", () => {
    for (const s of SETTINGS) {
      assert.ok(help.includes(`Default: ${s.defaultText}`), `${flagLabel(s)} default`);
      if (s.env) assert.ok(help.includes(`env: ${s.env}`), `${flagLabel(s)} env ${s.env}`);
    }
  });

  test("lists --help and --version", () => {
    assert.match(help, /-h, --help/);
    assert.match(help, /-v, --version/);
  });

  test("starts with the usage line for the program name given", () => {
    assert.equal(lines[0], "Usage: corral [OPTIONS] APP_MODULE[:NAME]");
    assert.match(helpText("bunx corral"), /^Usage: bunx corral /);
  });
});
