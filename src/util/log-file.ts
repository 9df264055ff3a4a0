// The `logFile` of the Multus config, rotated the way upstream Multus rotates it (lumberjack, with its
// defaults when `logOptions` is absent): when a write would take the file past `maxSize` MB it is
// renamed to `<name>-<UTC time>.<ext>` (e.g. multus-2026-12-01T07-54-39.123.log), gzipped when
// `compress` is set, and backups beyond `maxBackups` or older than `maxAge` days are deleted (0 means
// no limit). Many short-lived processes append to the same file, so the size is re-read before
// rotating: a process that saw a stale size does not rotate a file another process just started.
// Writes are synchronous appends (O_APPEND: lines from concurrent processes never interleave); the
// gzip of a rotated file runs off the event loop (the daemon keeps serving meanwhile).
// Logging never fails a CNI operation: errors are swallowed here.
import { appendFileSync, readdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { promisify } from "node:util";

export interface LogRotationOptions {
  /** Rotate before the file would exceed this many megabytes (0 here: never; the config maps lumberjack's 0 to 100). */
  maxSizeMb: number;
  /** Keep at most this many rotated files (0: all). */
  maxBackups: number;
  /** Delete rotated files older than this many days (0: never). */
  maxAgeDays: number;
  compress: boolean;
}

const MB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

export class RotatingLogFile {
  readonly path: string;
  readonly #opts: LogRotationOptions;
  #size: number | undefined;
  readonly #now: () => Date;

  constructor(path: string, opts: LogRotationOptions, now: () => Date = () => new Date()) {
    this.path = path;
    this.#opts = opts;
    this.#now = now;
  }

  write(line: string): void {
    try {
      const bytes = Buffer.byteLength(line);
      const max = this.#opts.maxSizeMb * MB;
      if (max > 0) {
        this.#size ??= sizeOf(this.path);
        if (this.#size + bytes > max) {
          // Another process may have rotated already: trust the file, not our count.
          this.#size = sizeOf(this.path);
          if (this.#size > 0 && this.#size + bytes > max) this.#rotate();
        }
      }
      appendFileSync(this.path, line, { mode: 0o600 });
      this.#size = (this.#size ?? 0) + bytes;
    } catch {
      // A log file we cannot write must not fail the CNI operation.
    }
  }

  #rotate(): void {
    const backup = backupName(this.path, this.#now());
    try {
      renameSync(this.path, backup);
    } catch {
      return;
    }
    this.#size = 0;
    if (!this.#opts.compress) {
      this.#prune();
      return;
    }
    // Compressed off the event loop (100 MB take seconds to gzip, and the daemon serves requests
    // meanwhile); a short-lived process still waits for it before exiting, as Node does for zlib work.
    void (async () => {
      try {
        // zlib is loaded only here: every thin call would pay for it at start-up otherwise.
        const { gzip } = await import("node:zlib");
        await writeFile(`${backup}.gz`, await promisify(gzip)(await readFile(backup)), { mode: 0o600 });
        await unlink(backup);
      } catch {
        // The uncompressed backup stays.
      }
      this.#prune();
    })();
  }

  #prune(): void {
    const dir = dirname(this.path);
    const ext = extname(this.path);
    const prefix = `${basename(this.path, ext)}-`;
    const backups: { name: string; time: number }[] = [];
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      const rest = name.slice(prefix.length).replace(/\.gz$/, "");
      if (!rest.endsWith(ext)) continue;
      const time = parseStamp(rest.slice(0, rest.length - ext.length));
      if (time !== undefined) backups.push({ name, time });
    }
    backups.sort((a, b) => b.time - a.time);
    const cutoff = this.#now().getTime() - this.#opts.maxAgeDays * DAY_MS;
    backups.forEach((b, i) => {
      const tooMany = this.#opts.maxBackups > 0 && i >= this.#opts.maxBackups;
      const tooOld = this.#opts.maxAgeDays > 0 && b.time < cutoff;
      if (!tooMany && !tooOld) return;
      try {
        unlinkSync(join(dir, b.name));
      } catch {
        // Removed by another process.
      }
    });
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** lumberjack's backup name: the time in UTC as 2006-01-02T15-04-05.000 between name and extension. */
export function backupName(path: string, when: Date): string {
  const ext = extname(path);
  const stamp = when.toISOString().replace(/:/g, "-").replace(/Z$/, "");
  return join(dirname(path), `${basename(path, ext)}-${stamp}${ext}`);
}

function parseStamp(s: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/.exec(s);
  if (m === null) return undefined;
  const t = Date.parse(`${m[1] ?? ""}T${m[2] ?? ""}:${m[3] ?? ""}:${m[4] ?? ""}.${m[5] ?? ""}Z`);
  return Number.isNaN(t) ? undefined : t;
}
