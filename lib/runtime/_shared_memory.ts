/**
 * {@link SharedMemory} from libc and a runtime's own way to map a file:
 * the file is created here, the clock is libc's CLOCK_MONOTONIC.
 * @module
 */
import { sys } from "./sys.ts";
import { type LibcCalls, monotonicMicros } from "./_libc.ts";
import type { SharedMemory } from "./types.ts";

/** Maps the existing file at `path`, `bytes` long, shared. */
export type MapFile = (path: string, bytes: number) => ArrayBuffer;

/** Shared memory through `mapFile`, with libc's clock; null without libc. */
export function sharedMemoryOf(libc: LibcCalls | null, mapFile: MapFile): SharedMemory | null {
  if (libc === null) return null;
  return {
    map(path, bytes) {
      sys.writeFile(path, new Uint8Array(bytes), 0o600);
      return mapFile(path, bytes);
    },
    monotonicMs: () => Number(monotonicMicros(libc)) / 1000,
  };
}
