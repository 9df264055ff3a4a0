// multusctl validate (being written: see docs/multusctl.md).
import type { CliContext } from "./cli-context.ts";
import { UsageError } from "./cli-error.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "validate",
  summary: "Check NetworkAttachmentDefinitions before a pod uses them",
  usage: ["validate nad NAME [-n NS] [--canary]", "validate nad -f FILE", "validate all [-A | -n NS]"],
  options: {
    filename: { type: "string", short: "f", description: "a YAML or JSON file of NADs (several documents allowed; - for stdin)" },
    "all-namespaces": { type: "boolean", short: "A", description: "validate all: every namespace" },
    canary: { type: "boolean", description: "also run a real ADD and DEL in a throw-away network namespace on this node" },
  },
  subcommands: ["nad", "all"],
  completes: "nad",
};

export function run(args: string[], ctx: CliContext): Promise<number> {
  if (parseVerbArgs(spec, args, ctx) === undefined) return Promise.resolve(0);
  return Promise.reject(new UsageError("validate: not implemented yet"));
}
