/**
 * The heartbeat thread of a worker process (a Web Worker). Every interval
 * it reads the main thread's watchdog buffer and the process's memory and
 * sends one message to the master, on its own connection, so heartbeats go
 * on while the main loop is blocked.
 * @module
 */
import process from "node:process";
import { IpcClient } from "../ipc.ts";
import { readWatchdog } from "./watchdog.ts";

/** The message the worker's main thread posts to start the thread. */
export interface HeartbeatStart {
  readonly buffer: SharedArrayBuffer;
  readonly ipcPath: string;
  readonly pid: number;
  readonly intervalMs: number;
}

const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<HeartbeatStart>) => void) | null };

scope.onmessage = async (event) => {
  scope.onmessage = null;
  const { buffer, ipcPath, pid, intervalMs } = event.data;
  const ipc = await IpcClient.connect(ipcPath);
  const beat = () => {
    const reading = readWatchdog(buffer);
    ipc.send({
      type: "heartbeat",
      pid,
      ...reading,
      inFlight: reading.inFlight.slice(0, 10),
      rss: process.memoryUsage.rss(),
    });
  };
  beat();
  setInterval(beat, intervalMs);
};
