/** {@link Sys} on Node's APIs, for Bun, where they are native (see sys.ts). */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  write,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import process from "node:process";
import { setImmediate } from "node:timers";
import type { Sink, Sys, UnixStream } from "./sys.ts";

function _sink(fd: number, close = () => {}): Sink {
  return {
    writeSync: (bytes) => writeSync(fd, bytes),
    write: (bytes) =>
      new Promise((resolve, reject) =>
        write(fd, bytes, 0, bytes.length, null, (err, n) => (err ? reject(err) : resolve(n)))
      ),
    close,
  };
}

function _connectUnix(path: string): Promise<UnixStream> {
  return new Promise((resolve, reject) => {
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
}

/** Node's {@link Sys}. */
export const nodeSys: Sys = {
  pid: process.pid,
  arch: process.arch,
  tmpdir,
  cwd: () => process.cwd(),
  chdir: (path) => process.chdir(path),
  memory() {
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  },
  readDir: (path) => readdirSync(path),
  readLink: (path) => readlinkSync(path),
  readText: (path) => readFileSync(path, "utf8"),
  exists: (path) => existsSync(path),
  remove: (path) => rmSync(path, { force: true }),
  writeFile: (path, data, mode) => writeFileSync(path, data, { mode }),
  openAppend(path) {
    const fd = openSync(path, "a");
    return _sink(fd, () => closeSync(fd));
  },
  stdout: _sink(1),
  stderr: _sink(2),
  connectUnix: _connectUnix,
  setImmediate: (fn) => void setImmediate(fn),
};
