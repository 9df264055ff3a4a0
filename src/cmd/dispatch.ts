// One executable for every TypeScript command (dist/bin/multus, with multus-daemon, multus-install,
// passthru and vfioveth as hard links to it): a Node SEA embeds the whole Node runtime (≈ 120 MiB), so one binary
// instead of four keeps a node's /opt/cni/bin and the image ≈ 360 MiB smaller. The command is the
// program's name (argv[0], as the runtime execs it; else the executable's own name); each command's
// module is loaded only when it runs, so the thin plugin does not initialise the daemon's code.
// A copy under any other name runs the command its first argument names (`multus-ts multus-install …`).
import { basename } from "node:path";

const COMMANDS: Readonly<Record<string, () => Promise<unknown>>> = {
  multus: () => import("./multus.ts"),
  passthru: () => import("./passthru.ts"),
  vfioveth: () => import("./vfioveth.ts"),
  "multus-daemon": () => import("./multus-daemon.ts"),
  "multus-install": () => import("./multus-install.ts"),
};

/**
 * The daemon lives long and allocates in small bursts: a 1 MiB young generation keeps its heap
 * ≈ 9 MiB smaller after a 64-pod burst (docs/performance.md). V8 sizes its heap at start-up, so the
 * daemon re-executes itself once with the flag (same PID) unless the flag is already set.
 */
const DAEMON_NODE_OPTIONS = "--max-semi-space-size=1";

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
    process.execve?.(process.execPath, [name, ...args], { ...process.env, NODE_OPTIONS: `${nodeOptions} ${DAEMON_NODE_OPTIONS}`.trim() });
  }
  // The command modules parse process.argv.slice(2): make it the command's own arguments.
  process.argv.splice(2, process.argv.length - 2, ...args);
  void load().catch((err: unknown) => {
    process.stderr.write(`multus-ts: ${name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}

main();
