/**
 * The access log: one line per request, formatted by a compiled format,
 * buffered, and written in the background in batches: when the buffer
 * passes 64 KiB, twice a second, and when the worker stops.
 * @module
 */
import { LogFile, logger } from "../../log.ts";
import { sys, type Timer } from "../../runtime/sys.ts";
import { type ErrorHandler, type Handler, type ServeInfo, UPGRADED } from "../../runtime/types.ts";
import { type AccessFormat, type AccessRecord, compileAccessFormat } from "./access_format.ts";
import type { FieldScan } from "./limits.ts";
import { frontFailed } from "./_guard.ts";
import { fieldValues } from "../../runtime/fields.ts";
import { LineBytes } from "./line_bytes.ts";

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 500;
/** Past this much written-but-not-yet-flushed text, new lines are dropped and counted. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** A buffered access log writer. */
export class AccessLog {
  readonly #file: LogFile;
  readonly #format: AccessFormat;
  /** Lines since the last flush, as the file gets them (room for one long line past FLUSH_BYTES). */
  readonly #out = new LineBytes(2 * FLUSH_BYTES);
  #pending = 0;
  #dropped = 0;
  #timer: Timer | undefined;

  constructor(file: LogFile, format: AccessFormat) {
    this.#file = file;
    this.#format = format;
  }

  /**
   * Opens `--access-logfile` (`-` is stdout) with its compiled format.
   * @throws {BootError} when the file cannot be opened.
   */
  static open(path: string, format: string): AccessLog {
    return new AccessLog(LogFile.open(path, 1, "--access-logfile"), compileAccessFormat(format));
  }

  /** Whether lines show durations (so requests must be timed). */
  get timed(): boolean {
    return this.#format.timed;
  }

  /** Whether lines show the client's address. */
  get peer(): boolean {
    return this.#format.peer;
  }

  /** The request header fields lines show, lower-case. */
  get fields(): readonly string[] {
    return this.#format.fields;
  }

  /** Logs a response the front gave instead of the app, as `scan` saw the request. */
  refused(request: Request, info: ServeInfo, response: Response, scan: FieldScan | undefined): Response {
    this.log({
      request,
      info,
      response,
      ms: 0,
      time: Date.now(),
      authorization: scan?.authorization,
      referer: scan?.referer,
      userAgent: scan?.userAgent,
    });
    return response;
  }

  /** Adds one request's line to the buffer. */
  log(record: AccessRecord): void {
    if (this.#pending > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
    const out = this.#out;
    const start = out.length;
    try {
      this.#format.write(record, out);
    } catch (err) {
      out.length = start; // what a failed line wrote is not kept
      return frontFailed("access log", err);
    }
    out.newline();
    // A full buffer is written without touching the timer: it is set once
    // per FLUSH_MS for the lines after it, not once per flush (under load, a
    // hundred flushes a second).
    if (out.length >= FLUSH_BYTES) void this.#write();
    else if (this.#timer === undefined) this.#timer = sys.after(FLUSH_MS, this.#onTimer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    void this.#write();
  };

  /** Hands the buffered lines to the file; resolves once they are written. */
  flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    return this.#write();
  }

  #write(): Promise<void> {
    if (this.#dropped > 0) {
      logger("http").warning("The access log fell behind: {n} lines dropped", { n: this.#dropped });
      this.#dropped = 0;
    }
    if (this.#out.length === 0) return Promise.resolve();
    const bytes = this.#out.take();
    this.#pending += bytes.length;
    return this.#file.write(bytes).then(() => {
      this.#pending -= bytes.length;
    });
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    await this.#file.close();
  }
}

/**
 * Logs every request with its final status, including the front's own
 * refusals; an app that throws is answered by `onError` and logged too.
 * A response returned synchronously is logged and returned synchronously:
 * the runtimes serve a plain Response faster than a Promise. With `scan`,
 * the gate's walk over this request's fields, taken just before, the
 * fields the default format shows are not read again.
 */
export function withAccessLog(
  next: Handler,
  log: AccessLog,
  onError: ErrorHandler,
  scan?: FieldScan,
): Handler {
  const timed = log.timed;
  const peer = log.peer;
  // What the walk did not read is read before the app runs: a Deno request upgraded to a WebSocket has
  // no headers left to read once the handler returns.
  const fields = scan ? log.fields.filter((name) => !_SCANNED.includes(name)) : log.fields;
  const reads = fields.length > 0;
  return (request, info) => {
    // The scanner's fields are read now: it moves on to the next request.
    const record: _Record = {
      request,
      info,
      remoteAddr: peer ? _peer(info) : undefined,
      response: null,
      ms: timed ? performance.now() : 0,
      time: 0,
      authorization: scan?.authorization,
      referer: scan?.referer,
      userAgent: scan?.userAgent,
      fields: reads ? _readFields(request, fields) : undefined,
    };
    let result;
    try {
      result = next(request, info);
    } catch (err) {
      result = onError(err);
    }
    // The common synchronous case allocates no closure (module functions).
    return result instanceof Promise
      ? _logWhenDone(result, log, record, timed, onError)
      : _logNow(log, record, timed, result);
  };
}

/** The client, read before the app runs (an upgrade may close what it is read from); guarded. */
function _peer(info: ServeInfo): ServeInfo["remoteAddr"] | undefined {
  try {
    return info.remoteAddr;
  } catch (err) {
    frontFailed("access log", err);
    return undefined;
  }
}

/** Where {@link _readFields} has the runtime put the values: read before the next request. */
const _values: (string | null)[] = [];

/** The fields a {@link FieldScan} walk reads for the access log. */
const _SCANNED: readonly string[] = ["authorization", "referer", "user-agent"];

/**
 * The request fields `names`, read now; guarded (undefined: read them
 * later). Asked of the runtime first: on Deno, reading `headers` would make
 * the runtime copy every field and answer through a promise (runtime/fields.ts).
 */
function _readFields(request: Request, names: readonly string[]): Record<string, string | null> | undefined {
  try {
    const fields: Record<string, string | null> = {};
    if (fieldValues(request, names, _values)) {
      for (let i = 0; i < names.length; i++) fields[names[i] as string] = _values[i] as string | null;
      return fields;
    }
    const headers = request.headers;
    for (const name of names) fields[name] = headers.get(name);
    return fields;
  } catch (err) {
    frontFailed("access log", err);
    return undefined;
  }
}

/** An {@link AccessRecord} being filled in: `ms` holds the start until the response. */
type _Record = { -readonly [K in Exclude<keyof AccessRecord, "response">]: AccessRecord[K] } & {
  response: Response | null;
};

/** What an upgraded connection is logged with (a Response cannot have status 101). */
const _SWITCHED = { status: 101, headers: new Headers() } as unknown as Response;

function _logNow<R extends Response | undefined>(
  log: AccessLog,
  record: _Record,
  timed: boolean,
  response: R,
): R {
  record.response = response === undefined || record.info[UPGRADED] === true ? _SWITCHED : response;
  record.ms = timed ? performance.now() - record.ms : 0;
  record.time = Date.now();
  log.log(record as AccessRecord);
  return response;
}

function _logWhenDone(
  result: Promise<Response | undefined>,
  log: AccessLog,
  record: _Record,
  timed: boolean,
  onError: ErrorHandler,
): Promise<Response | undefined> {
  return result.then(
    (response) => _logNow(log, record, timed, response),
    (err) => {
      const answer = onError(err);
      return answer instanceof Promise
        ? answer.then((response) => _logNow(log, record, timed, response))
        : _logNow(log, record, timed, answer);
    },
  );
}
