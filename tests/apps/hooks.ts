/** A server started through mod.ts serve() with every hook; each hook writes one line. */
import { writeSync } from "node:fs";
import process from "node:process";
import { serve } from "../../mod.ts";

// Synchronous: a worker exits right after workerExit, and Deno drops pending stream writes.
const say = (line: string): void => {
  writeSync(2, `hook ${line}\n`);
};
const code = await serve({
  app: { fetch: () => new Response("hooked") },
  bind: [`127.0.0.1:${process.env.TEST_PORT ?? "0"}`],
  onStarting: () => {
    say("onStarting");
    throw new Error("thrown on purpose");
  },
  whenReady: () => say("whenReady"),
  onReload: () => say("onReload"),
  preFork: ({ age }) => say(`preFork age=${age}`),
  postWorkerInit: ({ pid }) => say(`postWorkerInit pid=${pid}`),
  workerExit: ({ pid }) => say(`workerExit pid=${pid}`),
  childExit: ({ pid, signal }) => say(`childExit pid=${pid} signal=${signal}`),
  nworkersChanged: (now, before) => say(`nworkersChanged ${now} ${before}`),
  onExit: () => say("onExit"),
});
process.exit(code);
