/**
 * The part of Bun's global API that lib/runtime/bun.ts uses, declared here
 * so `deno check` can type-check it: bun-types' global overrides clash with
 * Deno's own lib types.
 */
declare namespace Bun {
  interface SocketAddress {
    address: string;
    port: number;
    family: string;
  }
  interface Server {
    requestIP(request: Request): SocketAddress | null;
    upgrade(request: Request, options?: unknown): boolean;
    stop(closeActiveConnections?: boolean): Promise<void>;
    readonly port: number;
    /** Requests whose response is not sent yet (a stream: until its end). */
    readonly pendingRequests: number;
  }
  interface ServerWebSocket {
    close(code?: number, reason?: string): void;
  }
  interface WebSocketHandler {
    open?(ws: ServerWebSocket): unknown;
    close?(ws: ServerWebSocket, code: number, reason: string): unknown;
  }
  interface ServeOptions {
    hostname?: string;
    port?: number;
    unix?: string;
    reusePort?: boolean;
    idleTimeout?: number;
    maxRequestBodySize?: number;
    http2?: boolean;
    development?: boolean;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: Server): Response | undefined | Promise<Response | undefined>;
    error?(error: Error): Response | Promise<Response>;
    [option: string]: unknown;
  }
  interface FileSink {
    write(chunk: string | Uint8Array): number;
    flush(): number | Promise<number>;
    end(): void;
  }
  interface Subprocess {
    readonly pid: number;
    readonly exited: Promise<number>;
    readonly exitCode: number | null;
    readonly signalCode: string | null;
    readonly stdin: FileSink;
    kill(signal?: string | number): void;
  }
  interface SpawnOptions {
    stdin?: "pipe" | "inherit" | "ignore";
    stdout?: "pipe" | "inherit" | "ignore";
    stderr?: "pipe" | "inherit" | "ignore";
    /** stdin, stdout, stderr, then more descriptors: the parent's fd, at the child's fd of its index. */
    stdio?: ("pipe" | "inherit" | "ignore" | number)[];
    cwd?: string;
    env?: Record<string, string>;
  }
  const version: string;
  const main: string;
  const stdin: { stream(): ReadableStream<Uint8Array> };
  function serve(options: ServeOptions): Server;
  function spawn(argv: string[], options?: SpawnOptions): Subprocess;
  /** The file at `path`, mapped: shared with other processes unless `shared` is false. */
  function mmap(path: string, options?: { shared?: boolean; sync?: boolean }): Uint8Array;
}
