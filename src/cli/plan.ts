// multusctl plan (being written: see docs/multusctl.md).
import type { CliContext } from "./cli-context.ts";
import { UsageError } from "./cli-error.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "plan",
  summary: "Show the attachment plan Multus would execute for a pod, without touching the node",
  usage: ["plan POD [-n NS]", "plan -f pod.yaml"],
  options: {
    filename: { type: "string", short: "f", description: "a pod manifest (YAML or JSON; - for stdin)" },
  },
  completes: "pod",
};

export function run(args: string[], ctx: CliContext): Promise<number> {
  if (parseVerbArgs(spec, args, ctx) === undefined) return Promise.resolve(0);
  return Promise.reject(new UsageError("plan: not implemented yet"));
}
