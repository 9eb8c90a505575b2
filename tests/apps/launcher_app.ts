/**
 * The launcher matrix's app (tests/integration/launchers.test.ts). The test
 * copies it into a folder of its own, with a package.json and a
 * node_modules, as a real app is deployed: it imports a package from there.
 * Answers JSON: the worker's pid and where the package was found; /slow?ms=N
 * says so on stderr and waits first.
 */
import process from "node:process";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["launcher-app"]);

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/slow") {
      process.stderr.write(`slow request started in ${process.pid}\n`);
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get("ms") ?? 1000)));
    }
    return Response.json({
      pid: process.pid,
      package: import.meta.resolve("@logtape/logtape"),
      logger: typeof log.info,
    });
  },
};
