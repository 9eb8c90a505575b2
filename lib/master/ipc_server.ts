/**
 * The master's end of the workers' channel (lib/ipc.ts): a unix socket in
 * the master's private folder, one JSON object a line.
 * @module
 */
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { WorkerMessage } from "../ipc.ts";

function _readLines(socket: Socket, onLine: (line: string) => void): void {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
}

/** The master's end: a socket in the master's private (0700) folder. */
export class IpcServer {
  readonly path: string;
  readonly #server: Server;

  private constructor(dir: string, server: Server) {
    this.path = join(dir, "master.sock");
    this.#server = server;
  }

  /** Opens the socket in `dir`; `onMessage` gets every message of every worker. */
  static async open(dir: string, onMessage: (message: WorkerMessage) => void): Promise<IpcServer> {
    const server = createServer((socket) => {
      socket.on("error", () => {});
      _readLines(socket, (line) => {
        try {
          onMessage(JSON.parse(line) as WorkerMessage);
        } catch { /* not ours: ignore */ }
      });
    });
    const ipc = new IpcServer(dir, server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ipc.path, () => resolve());
    });
    return ipc;
  }

  /** Closes the socket and removes its file. */
  close(): void {
    this.#server.close();
    rmSync(this.path, { force: true });
  }
}
