// libcni's on-disk result cache, byte-compatible with Go libcni (containernetworking/cni libcni/api.go,
// `cachedInfo`), so attachments made by a Go runtime or by upstream Multus can be deleted by us and the
// other way round (CNI-R-09).
//
// File: `<cacheDir>/results/<networkName>-<containerId>-<ifName>`, directory 0700, file 0600, one JSON
// object: {"kind":"cniCacheV1","containerId","config":<base64 of the exact config bytes>,"ifName",
// "networkName","netns"?,"cniArgs"?:[[k,v]…],"capabilityArgs"?,"result"?} — keys in Go's struct order,
// optional keys omitted when empty as Go's `omitempty` does. Before cniCacheV1 (libcni < 0.8) the file
// held the bare result; such files are still read ("legacy").
//
// Exported API:
//   CACHE_KIND = "cniCacheV1"; DEFAULT_CACHE_DIR = "/var/lib/cni"
//   interface CacheKey { networkName; containerId; ifName }
//   interface CachedAttachment extends CacheKey { config: Buffer; netns?; cniArgs?: [string,string][];
//     capabilityArgs?: Record<string, unknown>; result?: Record<string, unknown> }
//   type CacheReadOutcome = {state:"absent"} | {state:"ok", entry} | {state:"legacy", result} | {state:"corrupt", reason}
//   encodeCacheEntry(entry): string                 Go-compatible JSON text
//   decodeCacheEntry(text): CacheReadOutcome         never throws; "absent" is never returned
//   class ResultCache(cacheDir = DEFAULT_CACHE_DIR)
//     .filePath(key): string                         throws CniError(7) on an unusable name component
//     .read(key): Promise<CacheReadOutcome>
//     .write(entry): Promise<void>                   atomic (temp + fsync + rename + fsync dir)
//     .delete(key): Promise<void>                    a missing file is not an error
//     .list(containerId?): Promise<CachedAttachment[]>  valid cniCacheV1 entries, sorted by file name,
//                                                    as libcni's GetCachedAttachments (used by GC)

import { readFileSync, unlinkSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { settled } from "./settled.ts";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "./atomic-write.ts";
import { CniCode, CniError } from "./cni-error.ts";
import { isRecord } from "./is-record.ts";

export const CACHE_KIND = "cniCacheV1";
/** libcni's default; upstream Multus uses `<cniDir>` = /var/lib/cni/multus. */
export const DEFAULT_CACHE_DIR = "/var/lib/cni";

export interface CacheKey {
  networkName: string;
  containerId: string;
  ifName: string;
}

export interface CachedAttachment extends CacheKey {
  /** The exact bytes of the network configuration (conflist or conf) the attachment was made with. */
  config: Buffer;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  /** The final ADD result, as stored (a JSON object carrying its own cniVersion). */
  result?: Record<string, unknown>;
}

export type CacheReadOutcome =
  | { state: "absent" }
  | { state: "ok"; entry: CachedAttachment }
  | { state: "legacy"; result: Record<string, unknown> }
  | { state: "corrupt"; reason: string };


/** Serialize like Go's json.Marshal of libcni's cachedInfo (field order, omitempty). */
export function encodeCacheEntry(entry: CachedAttachment): string {
  const out: Record<string, unknown> = {
    kind: CACHE_KIND,
    containerId: entry.containerId,
    config: entry.config.toString("base64"),
    ifName: entry.ifName,
    networkName: entry.networkName,
  };
  if (entry.netns !== undefined && entry.netns !== "") out.netns = entry.netns;
  if (entry.cniArgs !== undefined && entry.cniArgs.length > 0) out.cniArgs = entry.cniArgs;
  if (entry.capabilityArgs !== undefined && Object.keys(entry.capabilityArgs).length > 0) out.capabilityArgs = entry.capabilityArgs;
  if (entry.result !== undefined && Object.keys(entry.result).length > 0) out.result = entry.result;
  return JSON.stringify(out);
}

// Go decodes []byte from standard, padded base64 and rejects anything else.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new Error(`"${key}" is not a string`);
  return v;
}

/** Parse a cache file's text. Never throws: problems come back as `corrupt`. */
export function decodeCacheEntry(text: string): CacheReadOutcome {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { state: "corrupt", reason: `invalid JSON: ${(err as Error).message}` };
  }
  if (!isRecord(raw)) return { state: "corrupt", reason: "not a JSON object" };
  if (raw.kind === undefined) {
    // libcni < 0.8 wrote the bare result; it always carries cniVersion.
    if (typeof raw.cniVersion === "string") return { state: "legacy", result: raw };
    return { state: "corrupt", reason: 'no "kind" and no "cniVersion"' };
  }
  if (raw.kind !== CACHE_KIND) return { state: "corrupt", reason: `wrong kind ${JSON.stringify(raw.kind)}` };
  try {
    const config = optionalString(raw, "config") ?? "";
    if (!BASE64.test(config)) throw new Error('"config" is not base64');
    const entry: CachedAttachment = {
      containerId: optionalString(raw, "containerId") ?? "",
      networkName: optionalString(raw, "networkName") ?? "",
      ifName: optionalString(raw, "ifName") ?? "",
      config: Buffer.from(config, "base64"),
    };
    const netns = optionalString(raw, "netns");
    if (netns !== undefined && netns !== "") entry.netns = netns;
    if (raw.cniArgs !== undefined && raw.cniArgs !== null) {
      if (!Array.isArray(raw.cniArgs)) throw new Error('"cniArgs" is not a list');
      const args: [string, string][] = [];
      for (const pair of raw.cniArgs as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
          throw new Error('"cniArgs" entries must be [key, value] string pairs');
        }
        args.push([pair[0], pair[1]]);
      }
      entry.cniArgs = args;
    }
    if (raw.capabilityArgs !== undefined && raw.capabilityArgs !== null) {
      if (!isRecord(raw.capabilityArgs)) throw new Error('"capabilityArgs" is not an object');
      entry.capabilityArgs = raw.capabilityArgs;
    }
    if (raw.result !== undefined && raw.result !== null) {
      if (!isRecord(raw.result)) throw new Error('"result" is not an object');
      entry.result = raw.result;
    }
    return { state: "ok", entry };
  } catch (err) {
    return { state: "corrupt", reason: (err as Error).message };
  }
}

// libcni accepts the same characters for container IDs and network names (utils.cniReg); interface
// names may hold more, but never "/" (ValidateInterfaceName). Anything that could leave the directory
// is refused here, whoever calls us.
function checkComponent(what: string, value: string): void {
  if (value === "" || value.includes("/") || value.includes("\0") || value === "." || value === "..") {
    throw new CniError(CniCode.InvalidNetworkConfig, `cache file path requires a usable ${what}, got ${JSON.stringify(value)}`);
  }
}

export class ResultCache {
  readonly cacheDir: string;
  readonly resultsDir: string;

  constructor(cacheDir: string = DEFAULT_CACHE_DIR) {
    this.cacheDir = cacheDir;
    this.resultsDir = join(cacheDir, "results");
  }

  filePath(key: CacheKey): string {
    checkComponent("network name", key.networkName);
    checkComponent("container ID", key.containerId);
    checkComponent("interface name", key.ifName);
    return join(this.resultsDir, `${key.networkName}-${key.containerId}-${key.ifName}`);
  }

  /** Synchronous inside: a small local file, read on every DEL and CHECK (a thread-pool round trip costs more). */
  read(key: CacheKey): Promise<CacheReadOutcome> {
    return settled(() => {
      const path = this.filePath(key);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (err) {
        // libcni: "Ignore read errors; the cached result may not exist on-disk".
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: "absent" };
        return { state: "corrupt", reason: `cannot read ${path}: ${(err as Error).message}` };
      }
      return decodeCacheEntry(text);
    });
  }

  async write(entry: CachedAttachment): Promise<void> {
    const path = this.filePath(entry);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Atomic but not fsynced, as libcni writes it: after a power loss a missing entry only means a DEL
    // without prevResult, which plugins must accept; the journal is the record that must survive.
    await writeFileAtomic(path, encodeCacheEntry(entry), { mode: 0o600, durable: false });
  }

  delete(key: CacheKey): Promise<void> {
    return settled(() => {
      try {
        unlinkSync(this.filePath(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    });
  }

  /** Every readable cniCacheV1 entry (optionally of one container), sorted by file name. */
  async list(containerId?: string): Promise<CachedAttachment[]> {
    let names: string[];
    try {
      names = await readdir(this.resultsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    names.sort();
    const out: CachedAttachment[] = [];
    for (const name of names) {
      // Dot files are temporary files of an atomic write in progress.
      if (name.startsWith(".")) continue;
      if (containerId !== undefined && containerId !== "") {
        const part = `-${containerId}-`;
        const pos = name.indexOf(part);
        if (pos <= 0 || pos + part.length >= name.length) continue;
      }
      let text: string;
      try {
        text = await readFile(join(this.resultsDir, name), "utf8");
      } catch {
        continue;
      }
      const outcome = decodeCacheEntry(text);
      if (outcome.state !== "ok") continue;
      const entry = outcome.entry;
      if (containerId !== undefined && containerId !== "" && entry.containerId !== containerId) continue;
      if (entry.ifName === "" || entry.networkName === "") continue;
      out.push(entry);
    }
    return out;
  }
}
