// The one wrapper for running a helper program: an argv array (never a shell), a deadline after
// which the child is killed, and stderr kept for the error message.
import { execFile } from "node:child_process";

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(msg: string, stderr: string, exitCode: number | null, options?: ErrorOptions) {
    super(msg, options);
    this.name = "ExecError";
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

export function execFileWithDeadline(file: string, args: readonly string[], opts: { timeoutMs: number; input?: string }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const timedOut = err.killed && err.signal === "SIGKILL";
        const what = `${file} ${args.join(" ")}`;
        const msg = timedOut ? `${what}: killed after ${opts.timeoutMs} ms` : `${what}: ${stderr.trim() || err.message}`;
        reject(new ExecError(msg, stderr, typeof err.code === "number" ? err.code : null, { cause: err }));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
