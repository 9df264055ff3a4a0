// Kernel file locks (flock(2)) that separate processes, the daemon's concurrent requests and the
// delegate plugins they start all respect. flock(2) locks belong to the open file description, so a
// lock taken on a descriptor this process opened stays held by every child that inherits the
// descriptor (a delegate plugin) until the last copy is closed. A process killed with SIGKILL
// therefore releases its lock only once the delegates it started have exited too
// (docs/architecture.md, "locks").
//
// Node has no flock binding. The lock is taken by multus-native.node (src/native/flock.c, a Node-API
// module installed next to the executable: dist/bin, /opt/cni/bin, the image's /usr/local/bin;
// native-module.ts), a non-blocking flock(2) on our descriptor. A busy lock is waited for by util-linux `flock -w` on the
// same descriptor (in the kernel); without that program, the module tries again with a back-off.
// Without the module (a copy of the executable alone, the tests run from source) util-linux `flock`
// takes every lock, one process per attempt (≈ 1.5–2 ms each).
//
// Exported API:
//   acquireFileLock(path, { mode, deadline, onBusy?, sliceMs? }): Promise<FileLock>
//     Creates the file (0600) and its directory (0700) if needed. Busy: calls `onBusy(waitedMs)` (at
//     most once per `sliceMs`, default 1 s) and waits until `deadline` (epoch ms); then LockTimeoutError.
//     After locking, checks that the path still names the locked file (a holder may have unlinked it
//     on its way out) and starts over if not, so unlinking under the lock is safe.
//   class FileLock { path; fd; mode; stillNamed(); release({ unlink? }) }   release is idempotent and synchronous
//   class LockTimeoutError (path, waitedMs), class LockUnavailableError (no usable lock primitive)
//   readLockNote(path): string | undefined / FileLock.note(text): a short text kept in the lock file
//     (who holds it), for waiters' messages. Not durable: it matters only while the holder lives.
//   lockPrimitive(): "multus-native.node" | "util-linux flock"   which one this process uses
//   useNativeLock(path | undefined, { kernelWait? }): void   tests: load the module from `path`, or
//     never (undefined); kernelWait: false makes busy waits poll, as on a host without util-linux flock
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { constants as osConstants } from "node:os";
import { getSystemErrorName } from "node:util";
import { NATIVE_MODULE_NAME, nativeModule, useNativeModule, type NativeModule } from "./native-module.ts";

export type LockMode = "shared" | "exclusive";

export interface AcquireOptions {
  mode: LockMode;
  /** Epoch milliseconds after which waiting stops with LockTimeoutError. */
  deadline: number;
  /** Called while the lock is busy, before each wait slice (inspect the holder, log, reap orphans). */
  onBusy?: (waitedMs: number) => void | Promise<void>;
  sliceMs?: number;
}

export class LockTimeoutError extends Error {
  readonly path: string;
  readonly waitedMs: number;

  constructor(path: string, waitedMs: number) {
    super(`lock ${path} still held after ${String(waitedMs)} ms`);
    this.name = "LockTimeoutError";
    this.path = path;
    this.waitedMs = waitedMs;
  }
}

export class LockUnavailableError extends Error {
  constructor(msg: string, options?: ErrorOptions) {
    super(msg, options);
    this.name = "LockUnavailableError";
  }
}

export class FileLock {
  readonly path: string;
  readonly fd: number;
  readonly mode: LockMode;
  #released = false;

  constructor(path: string, fd: number, mode: LockMode) {
    this.path = path;
    this.fd = fd;
    this.mode = mode;
  }

  /** Whether the path still names the file we locked (false once a GC removed it meanwhile). */
  stillNamed(): boolean {
    return !this.#released && sameFile(this.fd, this.path);
  }

  /** Replace the lock file's text (no fsync: it describes a live holder, nothing survives a reboot). */
  note(text: string): void {
    if (this.#released) return;
    const buf = Buffer.from(text);
    writeSync(this.fd, buf, 0, buf.length, 0);
    ftruncateSync(this.fd, buf.length);
  }

  /**
   * Close our descriptor; the lock is free once no child holds a copy. With `unlink`, the file is
   * removed first (only an exclusive holder may do that: later waiters then see another inode and retry).
   */
  release(opts: { unlink?: boolean } = {}): void {
    if (this.#released) return;
    this.#released = true;
    if (opts.unlink === true && this.mode === "exclusive") {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone: nothing to forget.
      }
    }
    closeSync(this.fd);
  }
}

/** The text a holder left in the lock file, or undefined when there is none. */
export function readLockNote(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8");
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

// util-linux flock exits with this when -n finds the lock taken or -w runs out (-E sets it).
const BUSY_EXIT = 75;
const FALLBACK_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];
let flockPath: string | undefined;

function findFlock(): string {
  if (flockPath !== undefined) return flockPath;
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== ""), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, "flock");
    try {
      accessSync(candidate, constants.X_OK);
      flockPath = candidate;
      return candidate;
    } catch {
      continue;
    }
  }
  throw new LockUnavailableError(`the flock program (util-linux) is not in PATH or ${FALLBACK_DIRS.join(", ")}; install util-linux`);
}

/** One `flock` run on `fd`: true when locked, false when still busy after `waitMs` (0: do not wait). */
function runFlock(fd: number, mode: LockMode, waitMs: number): Promise<boolean> {
  const args = ["-E", String(BUSY_EXIT), mode === "shared" ? "-s" : "-x"];
  if (waitMs <= 0) args.push("-n");
  else args.push("-w", (waitMs / 1000).toFixed(3));
  args.push("3");
  return new Promise((resolve, reject) => {
    const child = spawn(findFlock(), args, { stdio: ["ignore", "ignore", "pipe", fd] }) as ChildProcessByStdio<null, null, Readable>;
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (err) => {
      reject(new LockUnavailableError(`cannot run ${findFlock()}: ${err.message}`, { cause: err }));
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve(true);
      else if (code === BUSY_EXIT) resolve(false);
      else reject(new LockUnavailableError(`${findFlock()} ${args.join(" ")} failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim()}`));
    });
  });
}

function sameFile(fd: number, path: string): boolean {
  try {
    const held = fstatSync(fd);
    const named = statSync(path);
    return held.ino === named.ino && held.dev === named.dev;
  } catch {
    return false;
  }
}

// ---- multus-native.node ----

const EWOULDBLOCK = osConstants.errno.EWOULDBLOCK;

function nativeLock(): NativeModule | null {
  try {
    return nativeModule();
  } catch (err) {
    throw new LockUnavailableError((err as Error).message, { cause: err });
  }
}

let kernelWaitAllowed = true;

export function useNativeLock(path: string | undefined, opts: { kernelWait?: boolean } = {}): void {
  try {
    useNativeModule(path);
  } catch (err) {
    throw new LockUnavailableError((err as Error).message, { cause: err });
  }
  kernelWaitAllowed = opts.kernelWait ?? true;
}

export function lockPrimitive(): "multus-native.node" | "util-linux flock" {
  return nativeLock() === null ? "util-linux flock" : NATIVE_MODULE_NAME;
}

/** One non-blocking attempt: true when locked, false when another holder has it. */
function tryNative(lib: NativeModule, fd: number, mode: LockMode, path: string): boolean {
  const errno = lib.flock(fd, mode === "exclusive");
  if (errno === 0) return true;
  if (errno === EWOULDBLOCK) return false;
  throw new LockUnavailableError(`flock(2) on ${path} failed: ${getSystemErrorName(-errno)}`);
}

/** Back-off between attempts on a busy lock when no `flock` can wait in the kernel: 2 → 50 ms. */
const RETRY_MS = [2, 5, 10, 20, 50];

function hasFlockProgram(): boolean {
  try {
    findFlock();
    return true;
  } catch {
    return false;
  }
}

/**
 * The uncontended lock (nearly every one) is one non-blocking flock(2) through the module. A busy
 * lock is waited for in the kernel by util-linux `flock -w`, woken the moment the holder lets go, as
 * without the module (polling would let a stream of shared holders starve GC's exclusive wait);
 * only without that program does the module poll with a back-off.
 */
async function lockFd(fd: number, path: string, opts: AcquireOptions, started: number): Promise<void> {
  const slice = opts.sliceMs ?? 1000;
  const lib = nativeLock();
  let locked = lib === null ? await runFlock(fd, opts.mode, 0) : tryNative(lib, fd, opts.mode, path);
  const poll = lib !== null && !(kernelWaitAllowed && hasFlockProgram()) ? lib : null;
  let lastBusy = -Infinity;
  for (let attempt = 0; !locked; attempt++) {
    const left = opts.deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(path, Date.now() - started);
    if (Date.now() - lastBusy >= slice) {
      lastBusy = Date.now();
      await opts.onBusy?.(Date.now() - started);
    }
    if (poll === null) {
      locked = await runFlock(fd, opts.mode, Math.min(slice, Math.max(1, opts.deadline - Date.now())));
    } else {
      await sleep(Math.min(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)] ?? 50, Math.max(1, opts.deadline - Date.now())));
      locked = tryNative(poll, fd, opts.mode, path);
    }
  }
}

export async function acquireFileLock(path: string, opts: AcquireOptions): Promise<FileLock> {
  const started = Date.now();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    // Node opens with O_CLOEXEC: only children we hand the descriptor to (flock, delegates) get it.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      await lockFd(fd, path, opts, started);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    // A holder that removed the file before releasing it left us a lock on an orphaned inode.
    if (sameFile(fd, path)) return new FileLock(path, fd, opts.mode);
    closeSync(fd);
  }
}
