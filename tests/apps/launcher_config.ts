/**
 * The launcher matrix's config module, copied beside its app as
 * corral.config.ts (found there with no -c): short timeouts, so that
 * several seconds show what an idle worker, a reload and a stop do.
 */
import process from "node:process";

export default {
  workers: 2,
  timeout: 1,
  gracefulTimeout: 3,
  postWorkerInit: (worker: { pid: number }) =>
    process.stderr.write(`launcher hook: postWorkerInit in ${worker.pid}\n`),
};
