/**
 * deploy/systemd/corral.service and corral.socket: valid for systemd
 * (`systemd-analyze verify`) and hardened (`systemd-analyze security`,
 * offline: no running systemd needed). Skips, saying so, without
 * systemd-analyze (apt-get install systemd).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../_helpers/corral.ts";

const available = spawnSync("systemd-analyze", ["--version"]).status === 0;
if (!available) {
  console.warn("SKIP the unit files' tests: systemd-analyze is not installed (package systemd)");
}
const dir = mkdtempSync(join(tmpdir(), "corral-units-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped units, with ExecStart= pointing at a program that exists here (verify checks it). */
function units(): { service: string; socket: string } {
  for (const name of ["corral.service", "corral.socket"]) {
    const text = readFileSync(join(ROOT, "deploy/systemd", name), "utf8");
    writeFileSync(join(dir, name), text.replaceAll("/usr/local/bin/corral", "/bin/true"));
  }
  return { service: join(dir, "corral.service"), socket: join(dir, "corral.socket") };
}

describe("the systemd units in deploy/systemd", { skip: !available && "no systemd-analyze" }, () => {
  test("pass systemd-analyze verify", () => {
    const { service, socket } = units();
    const r = spawnSync("systemd-analyze", ["verify", socket, service], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "no warning");
  });

  test("corral.service is exposed at most 3.0 in systemd-analyze security", () => {
    const { service } = units();
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", "--no-pager", service], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const score = Number(/Overall exposure level for corral\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    assert.ok(score <= 3.0, `exposure ${score}:\n${r.stdout}`);
  });

  test("corral.service serves corral.socket's sockets as a notify service", () => {
    const text = readFileSync(join(ROOT, "deploy/systemd/corral.service"), "utf8");
    for (const line of ["Type=notify", "Requires=corral.socket", "KillMode=mixed", "NotifyAccess=main"]) {
      assert.ok(text.split("\n").includes(line), line);
    }
    assert.match(readFileSync(join(ROOT, "deploy/systemd/corral.socket"), "utf8"), /^Accept=no$/m);
  });
});
