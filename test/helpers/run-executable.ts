// Run one of our built executables (dist/bin) exactly as a container runtime does: env + stdin in,
// exit code + stdout + stderr out. Real process, real binary; nothing is mocked.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");

/** dist/bin/<name>, or `name` itself when it is a path (another build, e.g. upstream's). */
export function binPath(name: string): string {
  const p = name.includes("/") ? name : join(repoRoot, "dist", "bin", name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run "node scripts/build.ts" (scripts/test.sh does)`);
  return p;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: Record<string, string>;
  stdin?: string;
  /** Run inside this network namespace (`ip netns exec`), like a runtime on that node would. */
  netns?: string;
  timeoutMs?: number;
}

export function runExecutable(name: string, opts: RunOptions): Promise<RunResult> {
  return startExecutable(name, opts).done;
}

export interface StartedExecutable {
  /** The executable's own PID (`ip netns exec` execs it in place). */
  pid: number;
  /** Settles when it has exited; `code` is -1 when a signal ended it (`signal` says which). */
  done: Promise<RunResult & { signal: NodeJS.Signals | null }>;
}

/** As runExecutable, but returns at once with the PID, so that a test can kill it mid-operation. */
export function startExecutable(name: string, opts: RunOptions): StartedExecutable {
  const bin = binPath(name);
  const [cmd, args] = opts.netns === undefined ? [bin, []] : ["ip", ["netns", "exec", opts.netns, bin]];
  // The runtime passes its own environment plus CNI_*: keep PATH so that plugins find `ip` etc.
  const child = spawn(cmd, args, {
    env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  const done = new Promise<RunResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ code: code ?? -1, stdout, stderr, signal });
    });
  });
  child.stdin.on("error", () => undefined);
  child.stdin.end(opts.stdin ?? "");
  if (child.pid === undefined) throw new Error(`${bin} did not start`);
  return { pid: child.pid, done };
}

/** Parse stdout as JSON, failing the test with the whole output when it is not. */
export function stdoutJson(r: RunResult): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}
