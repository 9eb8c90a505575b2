/**
 * What every framework sample app does the same way: the bodies of the
 * answers the compatibility suite compares (tests/integration/frameworks.test.ts).
 * @module
 */

/** Requests whose `request.signal` aborted after their client went away. */
export const aborted = { count: 0 };

/**
 * Three server-sent events, 20 ms apart, then 1.2 s before the last: a
 * pause longer than the `--keep-alive 1` the suite gives corral.
 */
export function events(): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let n = 0;
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, n === 2 ? 1200 : 20));
      controller.enqueue(encoder.encode(`id: ${n}\ndata: tick ${n}\n\n`));
      if (++n === 3) controller.close();
    },
  });
}

/** A stream that never ends, counting in {@link aborted} when `signal` aborts. */
export function endless(signal: AbortSignal): ReadableStream<Uint8Array> {
  signal.addEventListener("abort", () => aborted.count++);
  const chunk = new TextEncoder().encode("waiting\n");
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (!signal.aborted) controller.enqueue(chunk);
    },
  });
}

/** `mb` MiB of "x", streamed in 64 KiB chunks. */
export function download(mb: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(120);
  let left = mb * 16;
  return new ReadableStream({
    pull(controller) {
      if (left-- > 0) controller.enqueue(chunk);
      else controller.close();
    },
  });
}

/** Bytes in a request body, read as a stream. */
export async function count(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let bytes = 0;
  for await (const chunk of body ?? []) bytes += chunk.byteLength;
  return bytes;
}

/** Whether this is Bun (the sample apps pick their framework's adapter by runtime, as its docs do). */
export const IS_BUN = "Bun" in globalThis;
