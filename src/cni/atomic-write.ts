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

import { open, rename, unlink } from "node:fs/promises";
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

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const mode = options.mode ?? 0o600;
  const durable = options.durable ?? true;
  let tmp = temporaryName(path);
  // "wx": never follow or reuse an existing file under the temporary name.
  let fh = await open(tmp, "wx", mode).catch((err: unknown) => err as NodeJS.ErrnoException);
  for (let tries = 1; fh instanceof Error; tries++) {
    // Another process (in a PID namespace of its own) picked the same name: pick another. Nothing of
    // ours exists yet, so nothing is removed on the way out.
    if (fh.code !== "EEXIST" || tries >= 5) throw fh;
    tmp = temporaryName(path);
    fh = await open(tmp, "wx", mode).catch((err: unknown) => err as NodeJS.ErrnoException);
  }
  let renamed = false;
  try {
    try {
      await fh.writeFile(data);
      // The mode given to open() is filtered by the umask; set it explicitly.
      await fh.chmod(mode);
      if (durable !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    renamed = true;
    if (durable !== true) return;
    // The rename itself is durable only once the directory entry is flushed.
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    if (!renamed) await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
