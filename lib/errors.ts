/**
 * Named exit codes and the typed errors that map onto them. Only `main()`
 * in cli.ts turns an error into a process exit.
 * @module
 */

/** Process exit codes, named as in Gunicorn's arbiter. */
export const ExitCode = {
  OK: 0,
  /** A runtime failure that is not one of the below. */
  ERROR: 1,
  /** Invalid command line, environment or settings value. */
  USAGE: 2,
  /** A worker could not boot (bind failed, bad TLS files, ...). */
  WORKER_BOOT_ERROR: 3,
  /** The app module could not be loaded or does not export a handler. */
  APP_LOAD_ERROR: 4,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** Base class: an error that carries the exit code the process should use. */
export class CorralError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A bad flag, environment variable or settings value (exit 2). */
export class UsageError extends CorralError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
  }
}

/** The app module failed to load or exports no handler (exit 4). */
export class AppLoadError extends CorralError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.APP_LOAD_ERROR, options);
  }
}

/** A worker could not start serving: bind, TLS, permissions (exit 3). */
export class BootError extends CorralError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.WORKER_BOOT_ERROR, options);
  }
}

/** Returns a one-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.name;
  return String(err);
}

/**
 * One line for an import failure, with the source position when the
 * runtime gives one: Deno puts it on the message's last line, Bun in the
 * `position` of each build message of an AggregateError.
 *
 * @example
 * ```ts
 * describeImportFailure(err); // "SyntaxError: Unexpected } (at /srv/app.ts:3:1)"
 * ```
 */
export function describeImportFailure(err: unknown): string {
  const first = err instanceof AggregateError && err.errors.length ? err.errors[0] : err;
  const e = first as {
    name?: string;
    message?: string;
    position?: { file: string; line: number; column: number };
  };
  const message = String(e?.message ?? first);
  let line = message.split("\n")[0] ?? message;
  if (!line.includes(":") || !/^[A-Z]\w*Error/.test(line)) {
    const name = e?.name && e.name !== "Error" ? e.name.replace(/^BuildMessage$/, "SyntaxError") : "";
    if (name && !line.startsWith(name)) line = `${name}: ${line}`;
  }
  const at = e?.position
    ? `${e.position.file}:${e.position.line}:${e.position.column}`
    : /\bat (\S+:\d+:\d+)\s*$/.exec(message)?.[1];
  return at ? `${line} (at ${at})` : line;
}
