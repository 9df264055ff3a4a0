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
  /** Killed at the deadline (exitCode is then null). */
  readonly timedOut: boolean;

  constructor(msg: string, stderr: string, exitCode: number | null, options?: ErrorOptions & { timedOut?: boolean }) {
    super(msg, options);
    this.name = "ExecError";
    this.stderr = stderr;
    this.exitCode = exitCode;
    this.timedOut = options?.timedOut ?? false;
  }
}

export function execFileWithDeadline(file: string, args: readonly string[], opts: { timeoutMs: number; input?: string; env?: NodeJS.ProcessEnv }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, encoding: "utf8", ...(opts.env === undefined ? {} : { env: opts.env }) },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const timedOut = err.killed === true && err.signal === "SIGKILL";
        const what = `${file} ${args.join(" ")}`;
        const msg = timedOut ? `${what}: killed after ${opts.timeoutMs} ms` : `${what}: ${stderr.trim() || err.message}`;
        reject(new ExecError(msg, stderr, typeof err.code === "number" ? err.code : null, { cause: err, timedOut }));
      },
    );
    if (opts.input !== undefined) {
      // A child that exits without reading (an exec that failed) closes the pipe: EPIPE is its exit's
      // business, reported by the callback above, not an unhandled error that ends this process.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}
