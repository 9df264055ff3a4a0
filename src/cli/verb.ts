// The shape of a multusctl verb, and the parsing every verb shares: its own flags (with parseArgs),
// --help, and usage errors that name the verb.
//
// Exported API:
//   type VerbRun = (args: string[], ctx: CliContext) => Promise<number>
//   interface VerbOption, VerbSpec, VerbModule, VerbEntry; type VerbTable
//   parseVerbArgs(spec, args, ctx): ParsedVerbArgs | undefined   (undefined: --help was printed)
//   verbHelp(spec): string
import { parseArgs } from "node:util";
import type { CliContext } from "./cli-context.ts";
import { UsageError } from "./cli-error.ts";
import { GLOBAL_OPTIONS } from "./global-options.ts";

/** A verb: its arguments (the global options already taken out) → its exit code (0 or 1; errors are thrown). */
export type VerbRun = (args: string[], ctx: CliContext) => Promise<number>;

export interface VerbOption {
  type: "string" | "boolean";
  short?: string;
  description: string;
}

export interface VerbSpec {
  name: string;
  summary: string;
  /** Usage lines without the program name, e.g. "validate nad NAME [-n NS] [--canary]". */
  usage: readonly string[];
  options: Readonly<Record<string, VerbOption>>;
  /** First positional words (validate: nad, all), for completion. */
  subcommands?: readonly string[];
  /** What completes the argument after a subcommand (or the verb): the names of these objects. */
  completes?: "nad" | "pod";
}

export interface VerbModule {
  spec: VerbSpec;
  run: VerbRun;
}

/** A verb in multusctl's table: loaded only when it runs (or when help or completion lists it). */
export interface VerbEntry {
  summary: string;
  load: () => Promise<VerbModule>;
}

export type VerbTable = Readonly<Record<string, VerbEntry>>;

export function verbHelp(spec: VerbSpec): string {
  const lines = [spec.summary, "", "Usage:", ...spec.usage.map((u) => `  multusctl ${u}`), "", "Options:"];
  const flag = (name: string, o: { type: string; short?: string }): string => `${o.short === undefined ? "    " : `-${o.short}, `}--${name}${o.type === "string" ? " VALUE" : ""}`;
  const rows: [string, string][] = [
    ...Object.entries(spec.options).map(([n, o]): [string, string] => [flag(n, o), o.description]),
    ["-h, --help", "this help"],
  ];
  const global: [string, string][] = Object.entries(GLOBAL_OPTIONS).map(([n, o]) => [flag(n, o), o.description]);
  const width = Math.max(...[...rows, ...global].map(([f]) => f.length));
  const fmt = ([f, d]: [string, string]): string => `  ${f.padEnd(width)}  ${d}`;
  return [...lines, ...rows.map(fmt), "", "Global options:", ...global.map(fmt), ""].join("\n");
}

/** A verb's flags, by kind (a flag given twice: the last wins). */
export interface ParsedVerbArgs {
  strings: Readonly<Record<string, string | undefined>>;
  flags: Readonly<Record<string, boolean>>;
  positionals: string[];
}

export function parseVerbArgs(spec: VerbSpec, args: readonly string[], ctx: CliContext): ParsedVerbArgs | undefined {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.short === undefined ? {} : { short: o.short }) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${spec.name}: ${(err as Error).message} (see multusctl ${spec.name} --help)`);
  }
  if (parsed.values["help"] === true) {
    ctx.io.stdout(verbHelp(spec));
    return undefined;
  }
  const strings: Record<string, string | undefined> = {};
  const flags: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === "string") strings[name] = value;
    else if (typeof value === "boolean") flags[name] = value;
  }
  return { strings, flags, positionals: parsed.positionals };
}
