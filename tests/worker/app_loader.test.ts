import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadApp, ownedKeyWarnings, resolveModule, toApp, toHandler } from "../../lib/worker/app_loader.ts";
import { AppLoadError } from "../../lib/errors.ts";
import type { ServeInfo } from "../../lib/runtime/types.ts";

const APPS = fileURLToPath(import.meta.resolve("../fixtures/apps/"));
const INFO: ServeInfo = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 } };

type AnyHandler = (req: Request, info: ServeInfo) => Response | undefined | Promise<Response | undefined>;

async function body(app: AnyHandler | { handler: AnyHandler }, path = "/") {
  const handler = typeof app === "function" ? app : app.handler;
  return await ((await handler(new Request(`http://localhost${path}`), INFO)) as Response).text();
}

/** Loads a module that must fail; returns the error after the checks every failure shares. */
async function loadFailure(module: string, exportName = "default", cwd = APPS): Promise<AppLoadError> {
  try {
    await loadApp({ module, exportName }, cwd);
  } catch (err) {
    assert.ok(err instanceof AppLoadError, `expected an AppLoadError, got ${err}`);
    assert.equal(err.exitCode, 4);
    const prefix = `Cannot load app "${module}": `;
    assert.ok(err.message.startsWith(prefix), `"${err.message}" should start with ${prefix}`);
    assert.ok(!err.message.includes("\n"), `"${err.message}" should be one line`);
    return err;
  }
  assert.fail(`expected loading ${module}:${exportName} to fail`);
}

describe("resolveModule", () => {
  test("makes a relative path absolute against the folder, as a file URL", () => {
    assert.equal(resolveModule("app.ts", "/srv"), "file:///srv/app.ts");
    assert.equal(resolveModule("./web/app.ts", "/srv"), "file:///srv/web/app.ts");
    assert.equal(resolveModule("../app.ts", "/srv/web"), "file:///srv/app.ts");
  });

  test("keeps an absolute path where it is", () => {
    assert.equal(resolveModule("/opt/site/app.ts", "/srv"), "file:///opt/site/app.ts");
  });

  test("percent-encodes characters a URL cannot hold", () => {
    assert.equal(resolveModule("my app #1.ts", "/srv"), "file:///srv/my%20app%20%231.ts");
  });

  test("leaves URLs as they are, ports included", () => {
    for (
      const url of [
        "https://example.com/app.ts",
        "http://h:8080/app.ts",
        "file:///srv/app.ts",
        "data:text/javascript,export default 1",
        "npm:myapp",
      ]
    ) {
      assert.equal(resolveModule(url, "/srv"), url);
    }
  });
});

describe("toHandler", () => {
  test("uses a function as the handler", async () => {
    const handler = toHandler((req: Request) => new Response(`fn ${req.method}`));
    assert.equal(await body(handler), "fn GET");
  });

  test("calls fetch on the object, so `this` is the app", async () => {
    class App {
      #name = "private state";
      fetch(_req: Request): Response {
        return new Response(this.#name);
      }
    }
    assert.equal(await body(toHandler(new App())), "private state");
    const plain = {
      prefix: "hi",
      fetch(this: { prefix: string }, req: Request) {
        return new Response(`${this.prefix} ${new URL(req.url).pathname}`);
      },
    };
    assert.equal(await body(toHandler(plain), "/there"), "hi /there");
  });

  test("passes the request and the connection info through", async () => {
    let seen: [Request, ServeInfo] | undefined;
    const handler = toHandler({
      fetch(req: Request, info: ServeInfo) {
        seen = [req, info];
        return new Response("ok");
      },
    });
    const req = new Request("http://localhost/x");
    await handler(req, INFO);
    assert.equal(seen?.[0], req);
    assert.equal(seen?.[1], INFO);
  });

  test("refuses a value that is not a handler and says what it got", () => {
    const cases: [unknown, string][] = [
      [undefined, "undefined"],
      [null, "null"],
      [42, "a number"],
      ["app", "a string"],
      [[], "an array"],
      [{}, "an object without a fetch method"],
      [{ fetch: "not a function" }, "an object without a fetch method"],
    ];
    for (const [value, got] of cases) {
      assert.throws(() => toHandler(value), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /expected a function or an object with a fetch\(request, info\) method/);
        assert.ok(err.message.endsWith(`got ${got}`), err.message);
        return true;
      });
    }
  });
});

describe("loadApp", () => {
  // Written at run time, not committed: a file that does not parse would
  // break `deno fmt`, `deno lint` and any tool that walks tests/.
  let broken = "";
  before(() => {
    broken = mkdtempSync(join(tmpdir(), "corral-app-loader-"));
    writeFileSync(join(broken, "syntax_error.js"), "export default {\n  fetch(request {\n");
    writeFileSync(
      join(broken, "my app #1.ts"),
      'export default { fetch: () => new Response("odd name") };\n',
    );
  });
  after(() => rmSync(broken, { recursive: true, force: true }));

  test("loads a default export object and keeps its `this`", async () => {
    const handler = await loadApp({ module: "default_object.ts", exportName: "default" }, APPS);
    assert.equal(await body(handler), "hello from the default export");
  });

  test("loads a named export, object or function", async () => {
    const api = await loadApp({ module: "named.ts", exportName: "api" }, APPS);
    assert.equal(await body(api, "/users"), "api /users");
    const fn = await loadApp({ module: "named.ts", exportName: "handler" }, APPS);
    assert.equal(await body(fn), "named function");
  });

  test("loads a function exported as default", async () => {
    const handler = await loadApp({ module: "function_default.ts", exportName: "default" }, APPS);
    assert.equal(await body(handler), "function GET");
  });

  test("loads an absolute path or a file URL whatever the folder", async () => {
    const path = join(APPS, "default_object.ts");
    for (const module of [path, import.meta.resolve("../fixtures/apps/default_object.ts")]) {
      const handler = await loadApp({ module, exportName: "default" }, "/");
      assert.equal(await body(handler), "hello from the default export");
    }
  });

  test("loads a module whose path has spaces and #", async () => {
    const handler = await loadApp({ module: "my app #1.ts", exportName: "default" }, broken);
    assert.equal(await body(handler), "odd name");
  });

  test("loads a module from a URL", async () => {
    const module = "data:text/javascript,export default { fetch: () => new Response('from a URL') }";
    assert.equal(await body(await loadApp({ module, exportName: "default" }, APPS)), "from a URL");
  });

  test("a missing module fails naming the module and the path it looked at", async () => {
    const err = await loadFailure("nope.ts");
    assert.match(err.message, /module not found/);
    assert.ok(err.message.includes(join(APPS, "nope.ts")), err.message);
  });

  test("a folder fails naming the module", async () => {
    await loadFailure(".");
  });

  test("a syntax error fails naming the module and saying it is a syntax error", async () => {
    const err = await loadFailure("syntax_error.js", "default", broken);
    assert.match(err.message, /SyntaxError/);
    assert.ok(err.message.includes("syntax_error.js:"), `"${err.message}" should give the position`);
  });

  test("a module that throws while loading fails with what it threw", async () => {
    const err = await loadFailure("throws_on_load.ts");
    assert.match(err.message, /DATABASE_URL is not set/);
    assert.ok(err.cause instanceof Error);
  });

  test("a missing named export fails listing the exports there are", async () => {
    const err = await loadFailure("named.ts", "nope");
    assert.match(err.message, /no export named "nope"/);
    assert.match(err.message, /it exports: api, handler/);
  });

  test("a module without a default export says what it does export", async () => {
    const err = await loadFailure("named.ts");
    assert.match(err.message, /no default export \(it exports: api, handler\)/);
  });

  test("a module that exports nothing says so", async () => {
    assert.match((await loadFailure("empty.ts")).message, /it exports nothing/);
  });

  test("an export that is not a handler fails naming the export and what it is", async () => {
    const number = await loadFailure("not_handler.ts");
    assert.match(number.message, /the default export is not a fetch handler: .*got a number$/);
    const object = await loadFailure("not_handler.ts", "settings");
    assert.match(
      object.message,
      /export "settings" is not a fetch handler: .*got an object without a fetch method$/,
    );
  });
});

describe("toApp", () => {
  test("an export's error() answers thrown errors, with the export as `this`", async () => {
    const exported = {
      prefix: "caught",
      fetch: () => new Response("ok"),
      error(this: { prefix: string }, err: Error) {
        return new Response(`${this.prefix}: ${err.message}`, { status: 418 });
      },
    };
    const app = toApp(exported);
    assert.equal(app.exported, exported);
    const answer = await app.error?.(new Error("boom"));
    assert.equal(answer?.status, 418);
    assert.equal(await answer?.text(), "caught: boom");
  });

  test("a function export has no error handler and no serve keys", () => {
    const app = toApp(() => new Response("fn"));
    assert.equal(app.error, null);
    assert.equal(app.exported, null);
  });

  test("keys corral owns are each named in a warning with the setting that decides them", () => {
    const warnings = ownedKeyWarnings({
      fetch: () => new Response(""),
      port: 3000,
      hostname: "0.0.0.0",
      tls: { cert: "x" },
      idleTimeout: 10,
      websocket: {},
    });
    assert.deepEqual(warnings, [
      "The app's export sets port: 3000, which corral ignores: it is decided by -b/--bind",
      'The app\'s export sets hostname: "0.0.0.0", which corral ignores: it is decided by -b/--bind',
      "The app's export sets tls: {...}, which corral ignores: it is decided by --certfile and --keyfile",
      "The app's export sets idleTimeout: 10, which corral ignores: it is decided by --keep-alive",
    ]);
    assert.deepEqual(ownedKeyWarnings({ fetch: () => new Response("") }), []);
  });
});

describe("an app written for Deno, loaded on Bun (lib/runtime/bun_deno_config.ts)", () => {
  const IS_BUN = "Bun" in globalThis;
  const skip = IS_BUN ? false : "Deno resolves a deno.json's imports and npm: specifiers itself";
  const copy = (withPackages: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), "corral-deno-app-"));
    const root = fileURLToPath(import.meta.resolve("../../"));
    cpSync(join(root, "tests", "apps", "deno_app"), dir, { recursive: true });
    if (withPackages) {
      cpSync(join(root, "node_modules", "@logtape"), join(dir, "node_modules", "@logtape"), {
        recursive: true,
      });
    }
    return dir;
  };

  test("its deno.jsonc's imports and npm: specifiers resolve to its node_modules", { skip }, async () => {
    const dir = copy(true);
    try {
      const reply = JSON.parse(await body(await loadApp({ module: "app.ts", exportName: "default" }, dir)));
      assert.equal(reply.greeting, "hello from a Deno app");
      assert.deepEqual(reply.logtape, ["function", "function"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a package missing from node_modules fails naming it and what asked for it", { skip }, async () => {
    const dir = copy(false);
    try {
      const err = await loadFailure("app.ts", "default", dir);
      assert.match(
        err.message,
        /Cannot find package "@logtape\/logtape" for "(logtape|npm:@logtape\/logtape@2\.4\.2)"/,
      );
      assert.match(err.message, /install it \(deno install with a node_modules folder, or npm install\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
