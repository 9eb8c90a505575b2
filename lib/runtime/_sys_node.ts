/**
 * {@link Sys} on Node's APIs, for Bun, where they are native (see sys.ts).
 * The modules are taken with `process.getBuiltinModule()` when
 * {@link nodeSys} is called, not imported: this file is loaded on Deno too,
 * where a `node:` import would start the Node layer.
 */
import type * as Fs from "node:fs";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Timers from "node:timers";
import type Process from "node:process";
import type { Sink, Sys, UnixStream } from "./sys.ts";

/** Node's {@link Sys}, on the Node modules of the runtime. */
export function nodeSys(): Sys {
  const process = (globalThis as unknown as { process: typeof Process }).process;
  const builtin = <T>(id: string) => process.getBuiltinModule(id) as T;
  const fs = builtin<typeof Fs>("node:fs");
  const { createConnection } = builtin<typeof Net>("node:net");
  const { tmpdir } = builtin<typeof Os>("node:os");
  const { clearTimeout, setImmediate, setTimeout } = builtin<typeof Timers>("node:timers");

  const sink = (fd: number, close = () => {}): Sink => ({
    writeSync: (bytes) => fs.writeSync(fd, bytes),
    write: (bytes) =>
      new Promise((resolve, reject) =>
        fs.write(fd, bytes, 0, bytes.length, null, (err, n) => (err ? reject(err) : resolve(n)))
      ),
    close,
  });

  const connectUnix = (path: string): Promise<UnixStream> =>
    new Promise((resolve, reject) => {
      const socket = createConnection(path, () => {
        socket.off("error", reject);
        let failure: Error | null = null;
        socket.on("error", (err) => void (failure = err));
        resolve({
          write: (bytes) =>
            new Promise((done, fail) => {
              if (failure !== null) return fail(failure);
              socket.write(bytes, (err) => (err ? fail(err) : done()));
            }),
          unref: () => void socket.unref(),
        });
      });
      socket.once("error", reject);
    });

  return {
    pid: process.pid,
    arch: process.arch,
    tmpdir,
    cwd: () => process.cwd(),
    chdir: (path) => process.chdir(path),
    memory() {
      const { rss, heapUsed } = process.memoryUsage();
      return { rss, heapUsed };
    },
    readDir: (path) => fs.readdirSync(path),
    readLink: (path) => fs.readlinkSync(path),
    readText: (path) => fs.readFileSync(path, "utf8"),
    exists: (path) => fs.existsSync(path),
    remove: (path) => fs.rmSync(path, { force: true }),
    writeFile: (path, data, mode) => fs.writeFileSync(path, data, { mode }),
    openAppend(path) {
      const fd = fs.openSync(path, "a");
      return sink(fd, () => fs.closeSync(fd));
    },
    stdout: sink(1),
    stderr: sink(2),
    connectUnix,
    setImmediate: (fn) => void setImmediate(fn),
    after(ms, fn) {
      const timer = setTimeout(fn, ms);
      timer.unref();
      return { cancel: () => clearTimeout(timer) };
    },
  };
}
