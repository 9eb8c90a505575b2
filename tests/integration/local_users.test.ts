/**
 * Another user on the same host, against the real CLI: a symlink planted at
 * the pid file, the control socket, the unix socket relay. Run as root, a
 * test also tries as `nobody` what another user could do.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Corral, freePort, FRONT_APP, runCorral, RUNTIME, stopAll } from "../_helpers/corral.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-local-"));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});
const T = { timeout: 30_000 };
let folders = 0;

/** A fresh folder of the test's. */
function folder(): string {
  return mkdtempSync(join(dir, `${++folders}-`));
}

describe(`pid file (${RUNTIME})`, () => {
  test(
    "a symlink planted at the pid path is refused, naming it and the flag; its target is untouched",
    T,
    async () => {
      const where = folder();
      const target = join(where, "precious");
      writeFileSync(target, "precious\n");
      const pidfile = join(where, "corral.pid");
      symlinkSync(target, pidfile);
      const { code, stderr } = await runCorral([
        "-p",
        pidfile,
        "-b",
        `127.0.0.1:${await freePort()}`,
        FRONT_APP,
      ]);
      assert.equal(code, 3);
      assert.match(stderr, new RegExp(`Cannot write --pid "${pidfile}": it is a symbolic link`));
      assert.equal(readFileSync(target, "utf8"), "precious\n");
      assert.ok(lstatSync(pidfile).isSymbolicLink());
    },
  );

  test(
    "the file is written through a renamed temporary; at exit only a file holding our pid is removed",
    T,
    async () => {
      const where = folder();
      const pidfile = join(where, "corral.pid");
      const start = async () => {
        const c = new Corral(["-p", pidfile, "-b", `127.0.0.1:${await freePort()}`, FRONT_APP]);
        await c.ready();
        assert.equal(readFileSync(pidfile, "utf8"), `${c.pid}\n`);
        assert.deepEqual(readdirSync(where), ["corral.pid"], "no temporary file left");
        return c;
      };
      // Another process's pid: left alone.
      const first = await start();
      writeFileSync(pidfile, "1\n");
      first.kill("SIGTERM");
      assert.equal((await first.exit()).code, 0);
      assert.equal(readFileSync(pidfile, "utf8"), "1\n");
      // A symlink to a file with our pid in it: left alone, and so is the file.
      rmSync(pidfile);
      const second = await start();
      const decoy = join(where, "decoy");
      writeFileSync(decoy, `${second.pid}\n`);
      rmSync(pidfile);
      symlinkSync(decoy, pidfile);
      second.kill("SIGTERM");
      assert.equal((await second.exit()).code, 0);
      assert.ok(lstatSync(pidfile).isSymbolicLink());
      assert.ok(existsSync(decoy));
    },
  );
});
