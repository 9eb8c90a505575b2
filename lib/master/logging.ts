/**
 * The master's error log: set up as a worker's is (lib/log.ts), with every
 * record handed to LogTape, which filters it by level and writes it through
 * the same sink, so the lines are the same. Only the master loads LogTape
 * (issue #17: an npm package starts Deno's Node layer in a process).
 * @module
 */
import { configureSync, getLogger } from "../runtime/logtape.ts";
import { type LoggingOptions, routeLogs, setupLogging } from "../log.ts";
import type { LogLevelName } from "../config/settings.ts";

/**
 * Configures the error log as {@link setupLogging} does, through LogTape.
 * @throws {BootError} when the error log file cannot be opened.
 */
export function setupMasterLogging(options: LogLevelName | LoggingOptions): void {
  const { sink, lowestLevel } = setupLogging(options);
  configureSync({
    reset: true,
    sinks: { errorLog: sink },
    loggers: [
      { category: ["corral"], lowestLevel, sinks: ["errorLog"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["errorLog"] },
    ],
  });
  routeLogs((category, level, message, properties) => getLogger([...category])[level](message, properties));
}
