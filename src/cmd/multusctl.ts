// multusctl: operators' view of what Multus does and will do (docs/multusctl.md). This entry takes
// the global options out of the command line, finds the verb, wires the context (stdout/stderr, the
// API, the node's Multus config) and is the one place that turns the outcome into the exit code
// (src/cli/cli-error.ts lists them: 0 ok, 1 findings, 2 usage, 3 unavailable, 4 internal).
//
//   multusctl [global options] VERB [arguments] [verb options]      multusctl --help, multusctl VERB --help
import type { CliContext } from "../cli/cli-context.ts";
import { createCliContext } from "../cli/cli-context.ts";
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, exitCodeFor, UsageError } from "../cli/cli-error.ts";
import { extractGlobalOptions, GLOBAL_OPTIONS } from "../cli/global-options.ts";
import type { VerbTable } from "../cli/verb.ts";

/**
 * Every verb, loaded only when it runs. Each module under src/cli/ (src/webhook/ for the webhook)
 * exports `spec: VerbSpec` and `run: (args, ctx) => Promise<number>` (src/cli/verb.ts).
 */
const VERBS: VerbTable = {
  validate: { summary: "check NetworkAttachmentDefinitions before a pod uses them", load: () => import("../cli/validate.ts") },
  plan: { summary: "show the attachment plan Multus would execute for a pod", load: () => import("../cli/plan.ts") },
  completion: { summary: "print a bash or zsh completion script", load: () => import("../cli/completion.ts") },
  // ---- verbs of the other workers: add your line here (keep one line per verb) ----
  diagnose: { summary: "compare a pod's or the node's desired, recorded and actual networks", load: () => import("../cli/diagnose.ts") },
  migrate: { summary: "turn legacy Network objects and networks annotations into NADs", load: () => import("../cli/migrate.ts") },
  webhook: { summary: "serve the NetworkAttachmentDefinition admission webhook", load: () => import("../webhook/webhook-command.ts") },
  // ---- end of the other workers' verbs ----
};

const VERSION = "multusctl (multus-ts 0.1.0)";

function mainHelp(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
  const globals = Object.entries(GLOBAL_OPTIONS).map(([n, o]) => `  ${"short" in o ? `-${o.short}, ` : "    "}--${n} VALUE`.padEnd(26) + o.description);
  return [
    "multusctl: check and explain what Multus does on this node and cluster",
    "",
    "Usage: multusctl [global options] VERB [arguments] [options]",
    "",
    "Verbs:",
    ...Object.entries(VERBS).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`),
    "",
    "Global options (anywhere on the line):",
    ...globals,
    `${"  -h, --help".padEnd(26)}this help; multusctl VERB --help for a verb's`,
    `${"      --version".padEnd(26)}print the version`,
    "",
    "Exit codes: 0 ok, 1 findings (or the object is missing), 2 usage error, 3 API or config unavailable, 4 internal error.",
    "",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const io = { stdout: (t: string) => void process.stdout.write(t), stderr: (t: string) => void process.stderr.write(t) };
  let ctx: CliContext | undefined;
  try {
    const { globals, rest } = extractGlobalOptions(argv);
    const [verb, ...args] = rest;
    if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
      io.stdout(mainHelp());
      return verb === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (verb === "--version") {
      io.stdout(`${VERSION}\n`);
      return EXIT_OK;
    }
    const entry = VERBS[verb];
    if (entry === undefined) throw new UsageError(`unknown verb "${verb}" (one of: ${Object.keys(VERBS).join(", ")}; see multusctl --help)`);
    const { run } = await entry.load();
    const { loadNodeMultusConfig } = await import("./multusctl-node-config.ts");
    ctx = createCliContext(globals, { io, env: process.env, verbs: VERBS, loadMultusConfig: (explicit) => loadNodeMultusConfig(explicit) });
    return await run(args, ctx);
  } catch (err) {
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`multusctl: ${message}\n`);
    if (code === EXIT_INTERNAL && err instanceof Error && err.stack !== undefined) io.stderr(`${err.stack}\n`);
    return code;
  } finally {
    ctx?.close();
  }
}

void main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`multusctl: ${String(err)}\n`);
    process.exitCode = EXIT_INTERNAL;
  },
);
