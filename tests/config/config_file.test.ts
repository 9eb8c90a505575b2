/** The config module, CORRAL_CMD_ARGS and their place among the settings sources. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Environment, formatSettings, splitShellWords } from "../../lib/config/config.ts";
import {
  DEFAULT_CONFIG_FILES,
  type Launch,
  loadConfigFile,
  loadInvocation,
} from "../../lib/config/config_file.ts";
import { UsageError } from "../../lib/errors.ts";
import { defaultSettings, SETTINGS, type Settings } from "../../lib/config/settings.ts";
import { Corral, freePort, runCorral, RUNTIME, stopAll } from "../_helpers/corral.ts";
import { get } from "../_helpers/http.ts";

type Serve = Extract<Launch, { action: "serve" }>;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
after(stopAll);
const T = { timeout: 30_000 };

/** A fresh folder holding `files`. */
function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "corral-config-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function environment(cwd: string, vars: Record<string, string> = {}): Environment {
  return { env: (name) => vars[name], cpuCount: () => 4, cwd };
}

async function launch(args: string[], cwd: string, vars: Record<string, string> = {}): Promise<Serve> {
  const result = await loadInvocation(args, environment(cwd, vars));
  assert.equal(result.action, "serve");
  return result as Serve;
}

async function refused(args: string[], cwd: string, vars: Record<string, string> = {}): Promise<string> {
  try {
    await loadInvocation(args, environment(cwd, vars));
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    return err.message;
  }
  assert.fail(`expected a UsageError for ${args.join(" ")}`);
}

describe("precedence: defaults, environment, config file, CORRAL_CMD_ARGS, command line", () => {
  const config = "export default { workers: 3, gracefulTimeout: 7, maxRequests: 50, logLevel: 'warning' };";

  test("each source overrides the ones before it", async () => {
    const cwd = folder({ "corral.config.ts": config });
    const vars = {
      WEB_CONCURRENCY: "2",
      PORT: "9100",
      CORRAL_CMD_ARGS: "--graceful-timeout 9 --max-requests 60",
    };
    const s = (await launch(["--max-requests", "70", "app.ts"], cwd, vars)).settings;
    assert.equal(s.workers, 3, "config file over $WEB_CONCURRENCY");
    assert.deepEqual(
      s.bind,
      [{ transport: "tcp", hostname: "0.0.0.0", port: 9100 }],
      "$PORT: nothing later sets bind",
    );
    assert.equal(s.gracefulTimeout, 9, "CORRAL_CMD_ARGS over the config file");
    assert.equal(s.maxRequests, 70, "command line over CORRAL_CMD_ARGS");
    assert.equal(s.logLevel, "warning");
    assert.equal(s.config, join(cwd, "corral.config.ts"));
  });

  test("the environment applies where nothing later sets a value; an overridden bad one is ignored", async () => {
    const cwd = folder();
    assert.equal((await launch(["app.ts"], cwd, { WEB_CONCURRENCY: "5" })).settings.workers, 5);
    const s = (await launch(["-b", "127.0.0.1:1", "app.ts"], cwd, { PORT: "not-a-port" })).settings;
    assert.deepEqual(s.bind, [{ transport: "tcp", hostname: "127.0.0.1", port: 1 }]);
  });

  test("without any source, every setting is its default", async () => {
    const s = (await launch(["app.ts"], folder())).settings;
    assert.deepEqual(s, defaultSettings());
  });
});

describe("-c/--config", () => {
  test(`looks for ${DEFAULT_CONFIG_FILES.join(", ")} in the current folder, in that order`, async () => {
    const cwd = folder({
      "corral.config.js": "export default { workers: 4 };",
      "corral.config.json": '{"workers": 5}',
    });
    assert.equal((await launch(["app.ts"], cwd)).settings.workers, 4);
    rmSync(join(cwd, "corral.config.js"));
    assert.equal((await launch(["app.ts"], cwd)).settings.workers, 5);
  });

  test("takes .ts, .js and .json files, relative to the current folder, from either command line", async () => {
    const cwd = folder({
      "a.ts": "const n: number = 2; export default { workers: n };",
      "b.js": "export default { workers: 3 };",
      "c.json": '{ "workers": 4, "bind": ["127.0.0.1:8001", "unix:/tmp/c.sock"] }',
    });
    assert.equal((await launch(["-c", "a.ts", "app.ts"], cwd)).settings.workers, 2);
    assert.equal((await launch(["--config=b.js", "app.ts"], cwd)).settings.workers, 3);
    const json = (await launch(["app.ts"], cwd, { CORRAL_CMD_ARGS: "-c c.json" })).settings;
    assert.equal(json.workers, 4);
    assert.deepEqual(json.bind, [
      { transport: "tcp", hostname: "127.0.0.1", port: 8001 },
      { transport: "unix", path: "/tmp/c.sock" },
    ]);
  });

  test("splits settings from hooks; booleans and lists are accepted as values", async () => {
    const cwd = folder({
      "corral.config.ts":
        "export default { reload: true, bind: ['127.0.0.1:9'], whenReady() {}, onExit: async () => {} };",
    });
    const inv = await launch(["app.ts"], cwd);
    assert.equal(inv.settings.reload, true);
    assert.deepEqual(Object.keys(inv.hooks).sort(), ["onExit", "whenReady"]);
  });

  test("an unknown key is an error naming the key and the file, with a suggestion", async () => {
    const cwd = folder({ "corral.config.ts": "export default { wokers: 2 };" });
    assert.equal(
      await refused(["app.ts"], cwd),
      'Unknown setting "wokers" in "corral.config.ts" (did you mean workers?)',
    );
    const far = folder({ "corral.config.json": '{ "zzzzzz": 1 }' });
    assert.equal(await refused(["app.ts"], far), 'Unknown setting "zzzzzz" in "corral.config.json"');
    const hook = folder({ "corral.config.js": "export default { whenReddy() {} };" });
    assert.match(
      await refused(["app.ts"], hook),
      /"whenReddy" in "corral.config.js" \(did you mean whenReady\?\)/,
    );
  });

  test("a bad value is an error naming the key, the value and the file", async () => {
    const cwd = folder({ "corral.config.ts": "export default { workers: 0 };" });
    assert.equal(
      await refused(["app.ts"], cwd),
      'Invalid value for "workers" in "corral.config.ts": "0": must be at least 1',
    );
    const flag = folder({ "corral.config.json": '{ "reload": "maybe" }' });
    assert.match(
      await refused(["app.ts"], flag),
      /"reload" in "corral.config.json": "maybe": expected true or false/,
    );
    const object = folder({ "corral.config.json": '{ "workers": { "n": 2 } }' });
    assert.match(await refused(["app.ts"], object), /"workers" in "corral.config.json": expected a string/);
  });

  test("a hook that is not a function, and a command-line-only key, are refused", async () => {
    const hook = folder({ "corral.config.ts": "export default { whenReady: 1 };" });
    assert.match(
      await refused(["app.ts"], hook),
      /Hook "whenReady" in "corral.config.ts" must be a function/,
    );
    const cliOnly = folder({ "corral.config.ts": "export default { config: 'other.ts' };" });
    assert.match(
      await refused(["app.ts"], cliOnly),
      /"config" in "corral.config.ts": --config is for the command line/,
    );
  });

  test("a missing, broken, or default-less config file is named in the error", async () => {
    const cwd = folder({
      "syntax.ts": "export default { workers: ",
      "named.ts": "export const workers = 2;",
      "list.json": "[1]",
      "bad.json": "{ workers: 2 }",
      "config.yaml": "workers: 2",
    });
    assert.match(await refused(["-c", "nope.ts", "app.ts"], cwd), /Config file "nope.ts" not found/);
    assert.match(await refused(["-c", "syntax.ts", "app.ts"], cwd), /Cannot load config file "syntax.ts": /);
    assert.match(
      await refused(["-c", "named.ts", "app.ts"], cwd),
      /"named.ts" has no default export.*it exports: workers/,
    );
    assert.match(
      await refused(["-c", "list.json", "app.ts"], cwd),
      /"list.json" must export an object.*got an array/,
    );
    assert.match(
      await refused(["-c", "bad.json", "app.ts"], cwd),
      /Cannot read config file "bad.json": invalid JSON/,
    );
    assert.match(await refused(["-c", "config.yaml", "app.ts"], cwd), /must be a .ts, .js or .json file/);
  });

  test("fresh: a HUP reads the file again", async () => {
    const cwd = folder({ "corral.config.ts": "export default { workers: 2 };" });
    const path = join(cwd, "corral.config.ts");
    assert.equal((await loadConfigFile(path)).settings.workers, 2);
    writeFileSync(path, "export default { workers: 3 };");
    assert.equal((await loadConfigFile(path, { fresh: true })).settings.workers, 3);
  });
});

describe("CORRAL_CMD_ARGS", () => {
  test("is split as a shell would split it", () => {
    assert.deepEqual(splitShellWords(`-w 2  --chdir "/srv/my app" -b 'unix:/tmp/a b.sock'`), [
      "-w",
      "2",
      "--chdir",
      "/srv/my app",
      "-b",
      "unix:/tmp/a b.sock",
    ]);
    assert.deepEqual(splitShellWords(`a\\ b "c\\"d" 'e\\f' ""`), ["a b", 'c"d', "e\\f", ""]);
    assert.deepEqual(splitShellWords("  "), []);
    assert.throws(() => splitShellWords(`-b "oops`), /\$CORRAL_CMD_ARGS: .*unterminated double quote/);
    assert.throws(() => splitShellWords(`-b 'oops`), /unterminated single quote/);
  });

  test("an error in it is named as coming from it", async () => {
    const cwd = folder();
    assert.match(
      await refused(["app.ts"], cwd, { CORRAL_CMD_ARGS: "-w 0" }),
      /Invalid value for -w\/--workers in \$CORRAL_CMD_ARGS: "0"/,
    );
    assert.match(await refused(["app.ts"], cwd, { CORRAL_CMD_ARGS: "--wokers 2" }), /In \$CORRAL_CMD_ARGS: /);
    assert.match(await refused(["app.ts"], cwd, { CORRAL_CMD_ARGS: "other.ts" }), /takes options only/);
  });
});

describe("--print-config", () => {
  test("prints every setting of the table, one name = value a line, as a config file writes it", () => {
    const s: Settings = {
      ...defaultSettings(),
      workers: 3,
      bind: [{ transport: "tcp", hostname: "::1", port: 81 }],
    };
    const lines = formatSettings(s).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.split(" = ")[0]), SETTINGS.map((x) => x.name));
    assert.ok(lines.includes("workers = 3"));
    assert.ok(lines.includes('bind = ["[::1]:81"]'));
    assert.ok(lines.includes("certfile = null"));
  });
});

describe(`the CLI with a config file (${RUNTIME})`, () => {
  test("--print-config shows the resolved settings and exits 0, without APP_MODULE", T, async () => {
    const r = await runCorral(["-c", "tests/apps/ship_config.json", "--print-config", "-w", "5"], 15_000, {
      CORRAL_CMD_ARGS: "--max-requests 7",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^workers = 5$/m);
    assert.match(r.stdout, /^maxRequests = 7$/m);
    assert.match(r.stdout, /^bind = \["127.0.0.1:8001","unix:\/tmp\/ship.sock"\]$/m);
    assert.match(r.stdout, /^config = ".*tests\/apps\/ship_config.json"$/m);
  });

  test("--check-config exits 0 when the settings and the app load", T, async () => {
    const r = await runCorral([
      "--check-config",
      "-c",
      "tests/apps/ship_config.ts",
      "tests/apps/ship_hello.ts",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /config OK/);
  });

  test(
    "--check-config exits 1 with the reason: bad setting, bad config, app that does not load",
    T,
    async () => {
      const cases: [string[], RegExp][] = [
        [["-w", "0", "tests/apps/ship_hello.ts"], /-w\/--workers: "0"/],
        [
          ["-c", "tests/apps/nope.ts", "tests/apps/ship_hello.ts"],
          /Config file "tests\/apps\/nope.ts" not found/,
        ],
        [["tests/apps/nope.ts"], /Cannot load app "tests\/apps\/nope.ts": module not found/],
        [["tests/apps/pid.ts:notAHandler"], /is not a fetch handler/],
      ];
      for (const [args, reason] of cases) {
        const r = await runCorral(["--check-config", ...args]);
        assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, reason);
      }
    },
  );

  test("a config error stops the start with exit 2, naming the key and the file", T, async () => {
    const config = join(folder({ "corral.config.ts": "export default { wokers: 2 };" }), "corral.config.ts");
    const r = await runCorral(["-c", config, "tests/apps/ship_hello.ts"]);
    assert.equal(r.code, 2);
    assert.ok(
      r.stderr.includes(`Unknown setting "wokers" in "${config}" (did you mean workers?)`),
      r.stderr,
    );
  });

  test("HUP reads the config file again and applies what changed", T, async () => {
    const config = join(folder({ "corral.config.json": '{ "workers": 1 }' }), "corral.config.json");
    const port = await freePort();
    const c = new Corral(["-c", config, "-b", `127.0.0.1:${port}`, "tests/apps/ship_hello.ts"]);
    await c.ready();
    assert.equal(c.workerPids().length, 1);
    writeFileSync(config, '{ "workers": 2 }');
    c.kill("SIGHUP");
    await c.waitForLog(/Reloaded: 2 new workers serving/);
    assert.equal(c.workerPids().length, 3, "one old worker, two new");
    writeFileSync(config, '{ "workers": "many" }');
    c.kill("SIGHUP");
    await c.waitForLog(/Reload failed: .*"workers" in .*corral.config.json.*"many"/);
    assert.equal(
      (await get(`http://127.0.0.1:${port}/`)).status,
      200,
      "a bad config keeps the workers serving",
    );
    c.kill("SIGTERM");
    assert.equal((await c.exit()).code, 0);
  });

  test(
    "serves with the config file's settings, and calls its hooks in the master and the workers",
    T,
    async () => {
      const port = await freePort();
      const c = new Corral([
        "-c",
        "tests/apps/ship_config.ts",
        "-b",
        `127.0.0.1:${port}`,
        "tests/apps/ship_hello.ts",
      ]);
      await c.ready();
      assert.equal(c.workerPids().length, 2, "workers: 2 from the config file");
      assert.match((await get(`http://127.0.0.1:${port}/`)).body, /^hello \d+$/);
      assert.match(c.stderr, new RegExp(`ship hook: onStarting in ${c.pid}`));
      await c.waitForLog(/ship hook: whenReady with 2 workers/);
      for (const pid of c.workerPids()) await c.waitForLog(new RegExp(`ship hook: postWorkerInit in ${pid}`));
      c.kill("SIGTERM");
      assert.equal((await c.exit()).code, 0);
      assert.match(c.stderr, /ship hook: onExit/);
    },
  );
});

describe("config files a Gunicorn user writes", () => {
  test("env is an object of variables, or a list of KEY=VALUE", async () => {
    const cwd = folder({
      "obj.ts": "export default { env: { A: '1', B: 2 } };",
      "list.json": '{ "env": ["A=1", "C=3"] }',
    });
    assert.deepEqual((await launch(["-c", "obj.ts", "app.ts"], cwd)).settings.env, { A: "1", B: "2" });
    assert.deepEqual((await launch(["-c", "list.json", "app.ts"], cwd)).settings.env, { A: "1", C: "3" });
  });

  test("Gunicorn's name of a setting gets corral's", async () => {
    const cwd = folder({ "g.json": '{ "errorlog": "-" }', "k.json": '{ "keepalive": 3 }' });
    assert.match(
      await refused(["-c", "g.json", "app.ts"], cwd),
      /Unknown setting "errorlog".*did you mean errorLogfile\?/,
    );
    assert.match(await refused(["-c", "k.json", "app.ts"], cwd), /did you mean keepAlive\?/);
  });

  test("a syntax error names the file, line and column, and the cause", async () => {
    const cwd = folder({ "syntax.ts": "export default {\n  workers: 2,\n  maxRequests: (1000,\n};\n" });
    assert.match(
      await refused(["-c", "syntax.ts", "app.ts"], cwd),
      /Cannot load config file "syntax.ts": SyntaxError: .+ \(at .*syntax\.ts:4:1\)/,
    );
  });
});
