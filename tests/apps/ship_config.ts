/** A config module: settings by their camelCase names, and hooks that log where they ran. */
import process from "node:process";

const say = (text: string) => process.stderr.write(`ship hook: ${text}\n`);

export default {
  workers: 2,
  gracefulTimeout: 5,
  logLevel: "info",
  onStarting: () => say(`onStarting in ${process.pid}`),
  whenReady: (settings: { workers: number }) => say(`whenReady with ${settings.workers} workers`),
  postWorkerInit: (worker: { pid: number }) => say(`postWorkerInit in ${worker.pid}`),
  onExit: () => say("onExit"),
};
