/** Deno's side of {@link SharedMemory}: a file mapped with libc's mmap, through Deno's FFI. */
import { LIBC_NAMES } from "./_libc.ts";

const _SYMBOLS = {
  // Variadic in C; called with its fixed arguments and a mode, which both ABIs corral runs on pass alike.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

let _lib: Deno.DynamicLibrary<typeof _SYMBOLS> | undefined;

function _open(): Deno.DynamicLibrary<typeof _SYMBOLS> {
  if (_lib) return _lib;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      return _lib = Deno.dlopen(name, _SYMBOLS);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * Maps `bytes` of the existing file at `path`, shared, read and write.
 * @throws {Error} when FFI is not allowed or the file cannot be opened or mapped.
 */
export function mapFileDeno(path: string, bytes: number): ArrayBuffer {
  const s = _open().symbols;
  const fd = s.open(new TextEncoder().encode(path + "\0"), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw new Error(`Cannot open "${path}" to map it`);
  try {
    const p = s.mmap(null, BigInt(bytes), PROT_READ_WRITE, MAP_SHARED, fd, 0n);
    if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) throw new Error(`Cannot map "${path}"`);
    return Deno.UnsafePointerView.getArrayBuffer(p, bytes);
  } finally {
    s.close(fd); // The mapping holds the file.
  }
}
