/**
 * Node's cluster module with node_app.mjs in N workers, as Node's docs
 * show it. Node's default scheduling on Linux is round-robin: the primary
 * accepts every connection and hands it to a worker.
 *
 * `node scripts/bench/peers/node_cluster.mjs 8000 2`
 * @module
 */
import cluster from "node:cluster";
import process from "node:process";

const port = process.argv[2] ?? "8000";
const count = Number(process.argv[3] ?? 1);

cluster.setupPrimary({ exec: new URL("./node_app.mjs", import.meta.url).pathname, args: [port] });
for (let i = 0; i < count; i++) cluster.fork();
// One worker dying takes the rest down: the benchmark wants all or none.
cluster.on("exit", () => process.exit(1));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    cluster.removeAllListeners("exit");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
}
