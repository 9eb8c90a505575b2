/** sd_notify: READY=1, RELOADING=1 and STOPPING=1 reach a notify socket the test opens itself. */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { openDatagramSocket, SystemdNotifier, type UnixDatagram } from "../../lib/master/notify.ts";
import { alive, Corral, freePort, RUNTIME, stopAll, waitFor } from "../_helpers/corral.ts";

after(stopAll);
const T = { timeout: 30_000 };

/** A notify socket as systemd opens one: a unix datagram socket in a private folder. */
async function notifySocket(): Promise<
  { path: string; socket: UnixDatagram; messages: string[]; close(): void }
> {
  const dir = mkdtempSync(join(tmpdir(), "corral-notify-"));
  const path = join(dir, "notify.sock");
  const socket = await openDatagramSocket(path);
  const messages: string[] = [];
  return {
    path,
    socket,
    messages,
    close() {
      socket.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until a message with `field` arrived; returns it. */
async function message(
  n: Awaited<ReturnType<typeof notifySocket>>,
  field: string,
  ms = 15_000,
): Promise<string> {
  let found: string | undefined;
  await waitFor(`a notify message with ${field} (got: ${JSON.stringify(n.messages)})`, () => {
    for (let data = n.socket.receive(); data; data = n.socket.receive()) {
      n.messages.push(new TextDecoder().decode(data));
    }
    found = n.messages.find((m) => m.split("\n").includes(field));
    return found !== undefined;
  }, ms);
  n.messages.splice(n.messages.indexOf(found as string), 1);
  return found as string;
}

describe(`SystemdNotifier (${RUNTIME})`, () => {
  test("sends KEY=VALUE lines as one datagram to a path or an abstract socket", async () => {
    const n = await notifySocket();
    try {
      const notifier = await SystemdNotifier.fromEnv((name) => name === "NOTIFY_SOCKET" ? n.path : undefined);
      assert.ok(notifier);
      notifier.ready("Serving 2 workers");
      assert.equal(await message(n, "READY=1"), "READY=1\nSTATUS=Serving 2 workers\n");
      notifier.reloading();
      assert.match(await message(n, "RELOADING=1"), /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=Reloading\n$/);
      notifier.stopping();
      assert.equal(await message(n, "STOPPING=1"), "STOPPING=1\nSTATUS=Stopping\n");
      notifier.close();
    } finally {
      n.close();
    }
    const name = `@corral-test-${process.pid}-${Date.now()}`;
    const abstract = await openDatagramSocket(name);
    try {
      const notifier = await SystemdNotifier.fromEnv(() => name);
      notifier?.ready();
      let data: Uint8Array | null = null;
      await waitFor("a datagram on the abstract socket", () => (data = abstract.receive()) !== null, 5000);
      assert.equal(new TextDecoder().decode(data as unknown as Uint8Array), "READY=1\nSTATUS=Serving\n");
    } finally {
      abstract.close();
    }
  });

  test("MONOTONIC_USEC is CLOCK_MONOTONIC: at most the time since boot", async () => {
    const n = await notifySocket();
    try {
      (await SystemdNotifier.fromEnv(() => n.path))?.reloading();
      const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(await message(n, "RELOADING=1"))?.[1]);
      const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
      assert.ok(usec > 0 && usec / 1e6 <= uptime + 1, `${usec} us, uptime ${uptime} s`);
    } finally {
      n.close();
    }
  });

  test("is null without NOTIFY_SOCKET; a socket that is gone makes a send return false", async () => {
    assert.equal(await SystemdNotifier.fromEnv(() => undefined), null);
    const notifier = await SystemdNotifier.fromEnv(() => join(tmpdir(), `corral-missing-${Date.now()}.sock`));
    assert.equal(notifier?.notify({ READY: 1 }), false);
  });
});

describe(`Type=notify: the master tells NOTIFY_SOCKET (${RUNTIME})`, () => {
  test(
    "READY=1 once every worker serves, RELOADING=1 then READY=1 on HUP, STOPPING=1 on TERM",
    T,
    async () => {
      const n = await notifySocket();
      try {
        const port = await freePort();
        const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/ship_hello.ts"], {
          env: { NOTIFY_SOCKET: n.path },
        });
        await message(n, "READY=1");
        await c.ready(); // Logged as READY=1 is sent: corral's stderr may trail the datagram.
        assert.equal(c.workerPids().length, 2);
        c.kill("SIGHUP");
        await message(n, "RELOADING=1");
        await message(n, "READY=1");
        await c.waitForLog(/Reloaded: 2 new workers serving/);
        assert.equal(c.workerPids().length, 4, "READY=1 again once the new workers serve");
        c.kill("SIGTERM");
        await message(n, "STOPPING=1");
        assert.equal((await c.exit()).code, 0);
      } finally {
        n.close();
      }
    },
  );

  test(
    "USR2 moves MAINPID= to the new master, and no STOPPING=1 is sent until the service stops",
    { timeout: 60_000 },
    async () => {
      const n = await notifySocket();
      let newMaster = 0;
      try {
        const port = await freePort();
        const c = new Corral(["-w", "2", "-b", `127.0.0.1:${port}`, "tests/apps/ship_hello.ts"], {
          env: { NOTIFY_SOCKET: n.path },
        });
        await message(n, "READY=1");
        await c.ready();
        c.kill("SIGUSR2");
        await c.waitForLog(/Upgrade: started a new master with pid (\d+)/);
        newMaster = Number(/Upgrade: started a new master with pid (\d+)/.exec(c.stderr)?.[1]);
        // The new master: ready, and the main process from now on (taken with NotifyAccess=all).
        assert.match(
          await message(n, `MAINPID=${newMaster}`),
          /READY=1\nMAINPID=\d+\nSTATUS=Serving; took over/,
        );
        // The old one, still the main process, says so as it drains (taken with NotifyAccess=main).
        assert.match(
          await message(n, `MAINPID=${newMaster}`),
          /^MAINPID=\d+\nSTATUS=Upgraded: the new master/,
        );
        assert.equal((await c.exit(20_000)).code, 0);
        assert.ok(!n.messages.some((m) => m.includes("STOPPING=1")), JSON.stringify(n.messages));
        process.kill(newMaster, "SIGTERM");
        await message(n, "STOPPING=1");
        await waitFor("the new master to exit", () => !alive(newMaster), 15_000);
      } finally {
        if (newMaster && alive(newMaster)) process.kill(newMaster, "SIGKILL");
        n.close();
      }
    },
  );
});
