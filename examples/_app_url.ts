/** The file URL of an app module given on a bare server's command line. */
export function toFileUrl(module: string, cwd: string): string {
  return new URL(module, `file://${cwd.endsWith("/") ? cwd : cwd + "/"}`).href;
}
