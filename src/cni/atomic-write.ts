// Crash-safe file replacement for the CNI library. src/cni/ may import only node:* (the shim bundles
// it alone), so it cannot use src/util/; this is its own small copy of the pattern.
//
// Exported API:
//   writeFileAtomic(path: string, data: string | Uint8Array, options?: { mode?: number }): Promise<void>
//     Writes `data` to a temporary file in the same directory (created with `mode`, default 0o600),
//     fsyncs it, renames it over `path` and fsyncs the directory, so a reader (or a reboot) sees either
//     the old file or the complete new one, never a truncated one. The temporary name starts with "."
//     so directory scanners can skip it. On failure the temporary file is removed.

import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600). */
  mode?: number;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${String(process.pid)}-${randomBytes(6).toString("hex")}`);
  const mode = options.mode ?? 0o600;
  let renamed = false;
  try {
    // "wx": never follow or reuse an existing file under the temporary name.
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      // The mode given to open() is filtered by the umask; set it explicitly.
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    renamed = true;
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
