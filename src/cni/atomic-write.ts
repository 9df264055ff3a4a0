// Crash-safe file replacement for the CNI library. src/cni/ may import only node:* (the shim bundles
// it alone), so it cannot use src/util/; this is its own small copy of the pattern.
//
// Exported API:
//   writeFileAtomic(path: string, data: string | Uint8Array, options?: { mode?: number; durable?: boolean | "file" }): Promise<void>
//     Writes `data` to a temporary file in the same directory (created with `mode`, default 0o600),
//     fsyncs it, renames it over `path` and fsyncs the directory, so a reader (or a reboot) sees either
//     the old file or the complete new one, never a truncated one. The temporary name starts with "."
//     so directory scanners can skip it. On failure the temporary file is removed.
//     `durable: "file"` fsyncs the file but not the directory: after a power loss or kernel crash the
//     rename may be lost, so the old file or the complete new one is found. For writes whose previous
//     version is an equally safe record after a reboot.
//     `durable: false` skips both fsyncs: still atomic for every process (a kill -9 leaves the old
//     file or the new one), but after a power loss the old file, or an empty one, may be found. Only
//     for data a reboot may lose (docs/architecture.md, "What is durable").
//
// The temporary name needs no cryptographic randomness ("wx" refuses an existing file, and a clash is
// retried with another name); not loading node:crypto saves every thin call ≈ 2 ms of start-up.

import { closeSync, fchmodSync, fsync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600). */
  mode?: number;
  /** true (default): fsync the file and the directory; "file": the file only; false: neither. */
  durable?: boolean | "file";
}

let written = 0;

function temporaryName(path: string): string {
  // `.<name>.tmp-<pid>-<hex>`: the shape the installer's sweep of leftovers recognises (src/install/files.ts).
  const unique = `${String(process.pid)}-${(++written).toString(16)}${Math.floor(Math.random() * 2 ** 48).toString(16).padStart(12, "0")}`;
  return join(dirname(path), `.${basename(path)}.tmp-${unique}`);
}

/** fsync(2) on the thread pool: a flush may wait on the disk, and the daemon's loop must not. */
function flush(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => {
      if (err === null) resolve();
      else reject(err);
    });
  });
}

function openExclusive(tmp: string, mode: number): number | NodeJS.ErrnoException {
  try {
    return openSync(tmp, "wx", mode);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/**
 * The small system calls (open, write, chmod, close, rename) are synchronous: microseconds on a local
 * file, less than a thread-pool round trip each; only the fsyncs, which wait for the disk, go to
 * the thread pool.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const mode = options.mode ?? 0o600;
  const durable = options.durable ?? true;
  let tmp = temporaryName(path);
  // "wx": never follow or reuse an existing file under the temporary name.
  let fd = openExclusive(tmp, mode);
  for (let tries = 1; fd instanceof Error; tries++) {
    // Another process (in a PID namespace of its own) picked the same name: pick another. Nothing of
    // ours exists yet, so nothing is removed on the way out.
    if (fd.code !== "EEXIST" || tries >= 5) throw fd;
    tmp = temporaryName(path);
    fd = openExclusive(tmp, mode);
  }
  let renamed = false;
  try {
    try {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      // The mode given to open() is filtered by the umask; set it explicitly.
      fchmodSync(fd, mode);
      if (durable !== false) await flush(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    renamed = true;
    if (durable !== true) return;
    // The rename itself is durable only once the directory entry is flushed.
    const dfd = openSync(dir, "r");
    try {
      await flush(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // Never created, or already gone.
      }
    }
    throw err;
  }
}
