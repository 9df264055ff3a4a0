// Putting executables on the host the way a running node needs: never write into a file the runtime
// may be executing (that is "text file busy", multus#1221, and a half-written plugin for the next
// call). A copy goes to a temporary name in the same directory and is renamed over the target; a
// running process keeps its old inode. A file that already has the same content is left alone, so a
// restarted installer does not churn /opt/cni/bin. Aliases are hard links (one inode for every
// host-side command of the multi-call executable), also put in place by rename. The new file's data
// is fsynced before the rename and the directory after it: a power loss after an upgrade must find
// the old executable or the new one, never a zero-length multus-shim the runtime then execs.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, link, lstat, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type CopyOutcome = "copied" | "unchanged";

/** ETXTBSY/EBUSY retries: a copy whose temporary file is, against all odds, being executed. */
const BUSY_RETRIES = 10;
const BUSY_DELAY_MS = 500;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Same size and same SHA-256: nothing to do. */
async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b).catch(() => undefined)]);
  if (sb === undefined || !sb.isFile() || sa.size !== sb.size) return false;
  const [ha, hb] = await Promise.all([sha256File(a), sha256File(b)]);
  return ha === hb;
}

/** In the name of every temporary file or directory the installer makes (for sweepTemporaries). */
export const TEMP_MARK = ".multus-install-";

function tempName(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}${TEMP_MARK}${String(process.pid)}-${randomBytes(4).toString("hex")}`);
}

/**
 * Removes what a killed installer left in `dir`: our temporary copies (`.<name>.multus-install-*`)
 * and, in our own directory (`atomicWrites`), atomic-write temporaries (`.<name>.tmp-<pid>-<hex>`).
 * Safe while no other installer runs on the node (the install lock).
 */
export async function sweepTemporaries(dir: string, opts: { atomicWrites?: boolean } = {}): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith(".")) continue;
    if (n.includes(TEMP_MARK) || (opts.atomicWrites === true && /\.tmp-\d+-[0-9a-f]+$/.test(n))) await rm(join(dir, n), { recursive: true, force: true });
  }
}

async function retryBusy<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== "ETXTBSY" && code !== "EBUSY") || attempt >= BUSY_RETRIES) {
        throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      }
      await sleep(BUSY_DELAY_MS);
    }
  }
}

/** fsync(2) of a file's data, or of a directory's entries (a rename in it). */
async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `fill(tmp)` makes the new file under a temporary name next to `dest`; its data is made durable, it
 * is renamed over `dest`, and the rename is made durable too (the directory's fsync).
 */
async function replaceByRename(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempName(dest);
  try {
    await fill(tmp);
    await fsyncPath(tmp);
    await retryBusy(`renaming ${tmp} over ${dest}`, () => rename(tmp, dest));
    await fsyncPath(dirname(dest));
  } finally {
    await rm(tmp, { force: true });
  }
}

async function copyExecutable(src: string, tmp: string): Promise<void> {
  await copyFile(src, tmp);
  await chmod(tmp, 0o755);
}

/** Copy `src` to `dest` (mode 0755) by temp + rename, unless `dest` already has that content. */
export async function installExecutable(src: string, dest: string): Promise<CopyOutcome> {
  if (await sameContent(src, dest)) return "unchanged";
  await replaceByRename(dest, (tmp) =>
    retryBusy(`copying ${src} to ${tmp}`, async () => {
      await rm(tmp, { force: true });
      await copyExecutable(src, tmp);
    }),
  );
  return "copied";
}

/** `alias` becomes a hard link to `target` (same directory), by link-to-temp + rename; copies when the file system refuses links. */
export async function installAlias(target: string, alias: string): Promise<CopyOutcome> {
  const [t, a] = await Promise.all([lstat(target), lstat(alias).catch(() => undefined)]);
  if (a !== undefined && a.ino === t.ino && a.dev === t.dev) return "unchanged";
  await replaceByRename(alias, async (tmp) => {
    try {
      await link(target, tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EPERM" && code !== "EXDEV" && code !== "ENOTSUP" && code !== "EMLINK") throw err;
      await copyExecutable(target, tmp);
    }
  });
  return "copied";
}
