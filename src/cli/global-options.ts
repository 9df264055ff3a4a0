// The options every multusctl verb takes, wherever they appear on the command line (kubectl's habit:
// `multusctl validate nad x -n ns -o json` and `multusctl -n ns validate nad x` are the same).
//
// Exported API:
//   interface GlobalOptions
//   GLOBAL_OPTIONS                          parseArgs' definitions (help and completion list them)
//   extractGlobalOptions(argv): { globals: GlobalOptions; rest: string[] }
//       the global options taken out, everything else (verb, its arguments and its own flags) left
//       in order for the verb's own parseArgs; UsageError for a global option without a value, or
//       one inside a group of short options (`-An`: write `-A -n`).
import { parseArgs } from "node:util";
import { UsageError } from "./cli-error.ts";
import { parseOutputFormat, type OutputFormat } from "./output.ts";

export interface GlobalOptions {
  /** --kubeconfig: wins over $KUBECONFIG and ~/.kube/config. */
  kubeconfig?: string;
  /** --context: a context of the kubeconfig other than its current-context. */
  context?: string;
  /** -n/--namespace: else the context's namespace, else "default". */
  namespace?: string;
  output: OutputFormat;
  /** --config: the Multus config file to use instead of the node's. */
  config?: string;
  /** --node: the node whose view to take (allocatable resources); default this host's name. */
  node?: string;
}

export const GLOBAL_OPTIONS = {
  kubeconfig: { type: "string", description: "kubeconfig file (else $KUBECONFIG, ~/.kube/config, in-cluster)" },
  context: { type: "string", description: "kubeconfig context to use instead of current-context" },
  namespace: { type: "string", short: "n", description: "namespace (else the context's, else \"default\")" },
  output: { type: "string", short: "o", description: "output format: table (default), json or yaml" },
  config: { type: "string", description: "Multus config file (else the node's: see docs/multusctl.md)" },
  node: { type: "string", description: "node name (else this host's name)" },
} as const;

export function extractGlobalOptions(argv: readonly string[]): { globals: GlobalOptions; rest: string[] } {
  const options = Object.fromEntries(Object.entries(GLOBAL_OPTIONS).map(([k, o]) => [k, "short" in o ? { type: o.type, short: o.short } : { type: o.type }]));
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const taken = new Set<number>();
  const values: Record<string, string> = {};
  for (const t of tokens) {
    if (t.kind !== "option" || !(t.name in GLOBAL_OPTIONS)) continue;
    const raw = argv[t.index] ?? "";
    if (raw !== t.rawName && !raw.startsWith(`${t.rawName}=`)) throw new UsageError(`${t.rawName} cannot be grouped with other short options in "${raw}": write it on its own`);
    // Without strict parsing a following flag would be taken as the value: `-n --canary`.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-"))) throw new UsageError(`${t.rawName} needs a value`);
    values[t.name] = t.value;
    taken.add(t.index);
    if (!t.inlineValue) taken.add(t.index + 1);
  }
  const globals: GlobalOptions = { output: values["output"] === undefined ? "table" : parseOutputFormat(values["output"]) };
  for (const key of ["kubeconfig", "context", "namespace", "config", "node"] as const) {
    const v = values[key];
    if (v === undefined) continue;
    if (v === "") throw new UsageError(`--${key} must not be empty`);
    globals[key] = v;
  }
  return { globals, rest: argv.filter((_, i) => !taken.has(i)) };
}
