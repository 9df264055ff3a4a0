// What every multusctl verb gets: where to write, the global options, and lazy access to the API and
// to this node's Multus config (neither is touched by a verb that does not ask for it: `completion`
// runs on a laptop without either). Built by src/cmd/multusctl.ts; tests build their own.
//
// Exported API:
//   interface CliIo, NodeMultusConfig, CliContext, CliContextDeps
//   createCliContext(globals, deps): CliContext
import { hostname } from "node:os";
import type { MultusConfig } from "../multus/multus-config.ts";
import type { GlobalOptions } from "./global-options.ts";
import { openKubeAccess, type KubeAccess } from "./kube-access.ts";
import { renderOutput, type Table } from "./output.ts";
import type { VerbTable } from "./verb.ts";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface NodeMultusConfig {
  config: MultusConfig;
  /** The file(s) it came from, or "defaults". */
  source: string;
  /** Said once on stderr when the config is first loaded (a missing file, defaults used). */
  warnings: string[];
}

export interface CliContext {
  readonly globals: GlobalOptions;
  readonly io: CliIo;
  readonly env: NodeJS.ProcessEnv;
  /** Every verb multusctl has (help and completion list them). */
  readonly verbs: VerbTable;
  /** "warning: <message>" on stderr. */
  warn(message: string): void;
  /** The API client and the namespace to use (opened once, on first use). */
  kube(): Promise<KubeAccess>;
  /** This node's Multus config, or --config's (loaded once; its warnings go to stderr then). */
  multusConfig(): Promise<NodeMultusConfig>;
  /** --node, else this host's name. */
  nodeName(): string;
  /** Prints `value` in the --output format; `table` lays it out for the table format. */
  print(value: unknown, table: () => Table): Promise<void>;
  /** Closes the API connection, if one was opened. */
  close(): void;
}

export interface CliContextDeps {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  verbs: VerbTable;
  loadMultusConfig: (explicit: string | undefined) => Promise<NodeMultusConfig>;
  /** Default: the environment's HOME. */
  home?: string;
  /** Default: os.hostname(). */
  hostname?: string;
}

export function createCliContext(globals: GlobalOptions, deps: CliContextDeps): CliContext {
  let kube: Promise<KubeAccess> | undefined;
  let config: Promise<NodeMultusConfig> | undefined;
  const warn = (message: string): void => {
    deps.io.stderr(`warning: ${message}\n`);
  };
  return {
    globals,
    io: deps.io,
    env: deps.env,
    verbs: deps.verbs,
    warn,
    kube: () => (kube ??= openKubeAccess(globals, deps.env, deps.home ?? deps.env["HOME"])),
    multusConfig: () =>
      (config ??= deps.loadMultusConfig(globals.config).then((c) => {
        for (const w of c.warnings) warn(w);
        return c;
      })),
    nodeName: () => globals.node ?? deps.hostname ?? hostname(),
    print: async (value, table) => {
      deps.io.stdout(await renderOutput(globals.output, value, table));
    },
    close: () => {
      void kube?.then((k) => {
        k.client.close();
      }, () => undefined);
    },
  };
}
