/**
 * Reads and checks the --certfile/--keyfile pair.
 * @module
 */
import { sys } from "./runtime/sys.ts";
import { BootError } from "./errors.ts";
import type { Settings } from "./config/settings.ts";

/** PEM certificate and key, as the runtime's server takes them. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

function _read(flag: string, path: string, marker: RegExp, what: string): string {
  let text: string;
  try {
    text = sys.readText(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
      ? "permission denied"
      : code === "EISDIR"
      ? "it is a folder"
      : String((err as Error).message ?? err);
    throw new BootError(`Cannot read ${flag} "${path}": ${why}`);
  }
  if (!marker.test(text)) throw new BootError(`Invalid ${flag} "${path}": no PEM ${what} found in it`);
  return text;
}

/**
 * Returns the TLS files named by the settings, or null for plain HTTP.
 * @throws {BootError} naming the file that cannot be read or holds no PEM.
 */
export function readTls(settings: Pick<Settings, "certfile" | "keyfile">): TlsFiles | null {
  if (settings.certfile === null || settings.keyfile === null) return null;
  return {
    cert: _read("--certfile", settings.certfile, /-----BEGIN CERTIFICATE-----/, "certificate"),
    key: _read("--keyfile", settings.keyfile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key"),
  };
}
