// One executable for every TypeScript command (dist/bin/multus, with multus-daemon, multus-install,
// multusctl, passthru and vfioveth as hard links to it): a Node SEA embeds the whole Node runtime (≈ 120 MiB), so one binary
// instead of four keeps a node's /opt/cni/bin and the image ≈ 360 MiB smaller. The command is the
// program's name (argv[0], as the runtime execs it; else the executable's own name); each command's
// module is loaded only when it runs, so the thin plugin does not initialise the daemon's code.
// A copy under any other name runs the command its first argument names (`multus-ts multus-install …`).
import { basename } from "node:path";
import { isSea } from "node:sea";

const COMMANDS: Readonly<Record<string, () => Promise<unknown>>> = {
  multus: () => import("./multus.ts"),
  passthru: () => import("./passthru.ts"),
  vfioveth: () => import("./vfioveth.ts"),
  "multus-daemon": () => import("./multus-daemon.ts"),
  "multus-install": () => import("./multus-install.ts"),
  multusctl: () => import("./multusctl.ts"),
};

/**
 * The daemon's memory, as measured (bench/memory.ts, docs/performance.md "Memory"): it lives long and
 * allocates in small bursts, so a 1 MiB young generation keeps its heap smaller through a burst
 * (V8's default grows it to 16 MiB: +30 MiB at the peak); glibc's malloc keeps two arenas instead of
 * one per thread. Both are fixed at start-up, so the daemon re-executes itself once (same PID) with
 * them unless NODE_OPTIONS already sets the young generation.
 */
const DAEMON_NODE_OPTIONS = "--max-semi-space-size=1";
const DAEMON_ENV = { MALLOC_ARENA_MAX: "2" };
/**
 * V8's optimizing compilers (TurboFan, Maglev) compile the daemon's request path again and again
 * during a burst, in memory of their own: without them the peak RSS of a 64-pod burst is ≈ 10 MiB
 * lower and the daemon's CPU per pod no higher (its work is short calls, not hot loops). The
 * interpreter and the baseline compiler stay. V8 accepts these in NODE_OPTIONS only from the
 * command line, so they are set here, before any of the daemon's code is compiled.
 */
const DAEMON_V8_FLAGS = ["--no-opt", "--no-maglev"];

function commandName(): { name: string; args: string[] } {
  const own = basename(process.argv0);
  if (own in COMMANDS) return { name: own, args: process.argv.slice(2) };
  const exe = basename(process.execPath);
  if (exe in COMMANDS) return { name: exe, args: process.argv.slice(2) };
  // multus-ts <command> …: argv after the executable.
  const [first = "", ...rest] = process.argv.slice(2);
  return { name: first, args: rest };
}

function main(): void {
  const { name, args } = commandName();
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`multus-ts: unknown command "${name}" (the program's name or the first argument must be one of: ${Object.keys(COMMANDS).join(", ")})\n`);
    process.exitCode = 2;
    return;
  }
  const nodeOptions = process.env["NODE_OPTIONS"] ?? "";
  if (name === "multus-daemon" && !nodeOptions.includes("--max-semi-space-size") && !process.execArgv.some((a) => a.startsWith("--max-semi-space-size"))) {
    // A SEA takes its arguments as they are; `node bundle.cjs multus-daemon …` (a plain node) needs
    // its script and the command named again.
    const argv = isSea() ? [name, ...args] : [process.argv0, ...process.execArgv, process.argv[1] ?? "", name, ...args];
    process.execve?.(process.execPath, argv, { ...DAEMON_ENV, ...process.env, NODE_OPTIONS: `${nodeOptions} ${DAEMON_NODE_OPTIONS}`.trim() });
  }
  // node:v8 is loaded for the daemon only: a thin call's start-up does not pay for it.
  if (name === "multus-daemon") for (const flag of DAEMON_V8_FLAGS) process.getBuiltinModule("node:v8").setFlagsFromString(flag);
  // The command modules parse process.argv.slice(2): make it the command's own arguments.
  process.argv.splice(2, process.argv.length - 2, ...args);
  void load().catch((err: unknown) => {
    process.stderr.write(`multus-ts: ${name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}

main();
