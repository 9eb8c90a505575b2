/**
 * The part of Bun's bundler API that lib/runtime/bun_deno_config.ts uses,
 * declared here for `deno check` (see _bun.d.ts).
 */
declare namespace Bun {
  interface OnResolveArgs {
    readonly path: string;
    readonly importer: string;
  }
  interface OnLoadArgs {
    readonly path: string;
  }
  interface PluginBuilder {
    onResolve(
      options: { filter: RegExp },
      callback: (args: OnResolveArgs) => { path: string; external?: boolean } | undefined,
    ): void;
    onLoad(
      options: { filter: RegExp },
      callback: (args: OnLoadArgs) => { contents: string; loader: "ts" | "tsx" | "js" | "jsx" } | undefined,
    ): void;
  }
  interface BunPlugin {
    name: string;
    setup(build: PluginBuilder): void;
  }
  interface BuildArtifact {
    text(): Promise<string>;
  }
  interface BuildOutput {
    readonly success: boolean;
    readonly outputs: BuildArtifact[];
    readonly logs: { readonly message: string }[];
  }
  function build(options: {
    entrypoints: string[];
    target: "bun";
    format: "esm";
    sourcemap: "inline";
    plugins: BunPlugin[];
    throw?: boolean;
  }): Promise<BuildOutput>;
  function resolveSync(specifier: string, from: string): string;
}
