/**
 * The heartbeat thread of a worker process (a Web Worker). Every interval
 * it reads the main thread's watchdog buffer and the process's memory and
 * sends one message to the master, on its own connection, so heartbeats go
 * on while the main loop is blocked. When it cannot reach the master it
 * says so to the main thread, which beats instead (heartbeat.ts). It
 * imports nothing that loads with a top-level await, so it starts fast.
 * @module
 */
import { describeError } from "../errors.ts";
import { IpcClient } from "../ipc.ts";
import { heartbeatOf } from "../watchdog_buffer.ts";

/** The message the worker's main thread posts to start the thread. */
export interface HeartbeatStart {
  readonly buffer: SharedArrayBuffer;
  readonly ipcPath: string;
  readonly pid: number;
  readonly intervalMs: number;
}

/** What the thread tells the main thread: it listens (send the start now), or it cannot report. */
export type ThreadMessage =
  | { readonly type: "listening" }
  | { readonly type: "failed"; readonly message: string };

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<HeartbeatStart>) => void) | null;
  postMessage(message: ThreadMessage): void;
};

scope.onmessage = async (event) => {
  scope.onmessage = null;
  const { buffer, ipcPath, pid, intervalMs } = event.data;
  let ipc: IpcClient;
  try {
    ipc = await IpcClient.connect(ipcPath, pid);
  } catch (err) {
    scope.postMessage({ type: "failed", message: `cannot reach the master: ${describeError(err)}` });
    return;
  }
  const beat = () => ipc.send(heartbeatOf(buffer, pid));
  beat();
  setInterval(beat, intervalMs);
};
scope.postMessage({ type: "listening" });
