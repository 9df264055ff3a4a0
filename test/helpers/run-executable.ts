// Run one of our built executables (dist/bin) exactly as a container runtime does: env + stdin in,
// exit code + stdout + stderr out. Real process, real binary; nothing is mocked.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");

export function binPath(name: string): string {
  const p = join(repoRoot, "dist", "bin", name);
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
  const bin = binPath(name);
  const [cmd, args] = opts.netns === undefined ? [bin, []] : ["ip", ["netns", "exec", opts.netns, bin]];
  return new Promise((resolve, reject) => {
    // The runtime passes its own environment plus CNI_*: keep PATH so that plugins find `ip` etc.
    const child = spawn(cmd, args, {
      env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.stdin ?? "");
  });
}

/** Parse stdout as JSON, failing the test with the whole output when it is not. */
export function stdoutJson(r: RunResult): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}
