// What `multusctl diagnose` reads of a node, read-only: the journals (the record of every sandbox
// Multus set up), the lock files and their holder notes, the result cache, host-local's leases,
// device-info files, whether a network namespace still exists, and the interfaces inside one
// (`ip -json addr` through nsenter, as the engine's default-route does). Every path is one the
// Multus config names (cniDir, deviceInfoDir) or one a recorded delegate config names (host-local's
// dataDir): nothing else on the node is looked at.
import { readdirSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { DelegateConfig } from "../cni/delegate-config.ts";
import { hostCommand } from "../cni/exec-plugin.ts";
import { ResultCache, type CachedAttachment } from "../cni/result-cache.ts";
import { decodeResult } from "../cni/result-decode.ts";
import { containerInfoMark } from "../devices/paths.ts";
import { AttachmentJournal, type JournalEntry } from "../multus/attachment-journal.ts";
import { holderState, readHolderNote, type HolderNote } from "../multus/sandbox-locks.ts";
import { networkStatusFromResult, type NetworkStatus } from "../netattach/network-status.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";
import { acquireFileLock, LockTimeoutError } from "../util/file-lock.ts";

/** One sandbox's journal as found on disk. */
export interface JournalRecord {
  containerId: string;
  path: string;
  entry?: JournalEntry;
  /** Why the file cannot be decoded (the engine's DEL then tears down best-effort). */
  corrupt?: string;
}

export async function readJournals(cniDir: string): Promise<JournalRecord[]> {
  const journal = new AttachmentJournal(cniDir);
  const out: JournalRecord[] = [];
  for (const containerId of (await journal.list()).sort()) {
    const read = await journal.read(containerId);
    if (read === undefined) continue; // removed meanwhile (a DEL finished)
    const path = journal.pathOf(containerId);
    out.push("entry" in read ? { containerId, path, entry: read.entry } : { containerId, path, corrupt: read.corrupt });
  }
  return out;
}

// statfs(2)'s f_type of a mounted namespace file (linux/magic.h NSFS_MAGIC).
const NSFS_MAGIC = 0x6e736673;

/**
 * Whether `path` names a live network namespace: a bind mount of nsfs (`/var/run/netns/…`) or a
 * process's `/proc/<pid>/ns/net`. A leftover file that is no longer a mount point is not one.
 */
export function netnsAlive(path: string): boolean {
  if (path === "") return false;
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

const IpAddrSchema = v.array(
  v.looseObject({
    ifname: v.string(),
    address: v.optional(v.string()),
    addr_info: v.optional(v.array(v.looseObject({ family: v.optional(v.string()), local: v.optional(v.string()), prefixlen: v.optional(v.number()), scope: v.optional(v.string()) })), []),
  }),
);

export interface ActualInterface {
  name: string;
  mac: string;
  /** Global addresses without prefix, as network-status writes them. */
  ips: string[];
}

const IP_TIMEOUT_MS = 10_000;

/** The interfaces in a network namespace (loopback left out), from `ip -json addr show`. */
export async function interfacesIn(netns: string): Promise<ActualInterface[]> {
  // In a container whose host tools live under a chroot these are the host's, as for the plugins.
  const [file, argv] = hostCommand("nsenter", [`--net=${netns}`, "ip", "-json", "addr", "show"]);
  const { stdout } = await execFileWithDeadline(file, argv, { timeoutMs: IP_TIMEOUT_MS });
  const parsed = v.safeParse(IpAddrSchema, JSON.parse(stdout === "" ? "[]" : stdout) as unknown);
  if (!parsed.success) throw new Error(`unexpected output of ip -json addr show in ${netns}: ${parsed.issues[0].message}`);
  return parsed.output
    .filter((l) => l.ifname !== "lo")
    .map((l) => ({
      name: l.ifname,
      mac: l.address ?? "",
      ips: l.addr_info.filter((a) => (a.family === "inet" || a.family === "inet6") && a.scope !== "link" && a.local !== undefined).map((a) => a.local ?? ""),
    }));
}

/** Result-cache entries (cniDir/results, libcni's format), of one container or all. */
export async function cachedAttachments(cniDir: string, containerId?: string): Promise<CachedAttachment[]> {
  return new ResultCache(cniDir).list(containerId);
}

/**
 * What the result cache says an attachment got, in network-status form (the same conversion the
 * ADD published with); undefined when the entry has no result or one that does not decode.
 */
export function recordedStatus(entry: CachedAttachment, network: string, isDefault: boolean): NetworkStatus | undefined {
  if (entry.result === undefined) return undefined;
  try {
    const version = typeof entry.result["cniVersion"] === "string" ? entry.result["cniVersion"] : "";
    return networkStatusFromResult({ network, ifName: entry.ifName, isDefault, result: decodeResult(entry.result, version) });
  } catch {
    return undefined;
  }
}

/** host-local's default data directory (plugins/ipam/host-local/backend/disk). */
export const HOST_LOCAL_DEFAULT_DIR = "/var/lib/cni/networks";

/** Where host-local keeps a network's leases: `<dataDir>/<network name>`, per host-local plugin of the list. */
export function hostLocalDirs(delegate: DelegateConfig): string[] {
  const dirs: string[] = [];
  for (const plugin of delegate.plugins) {
    const ipam = plugin.ipam;
    if (ipam?.type !== "host-local") continue;
    const dataDir = ipam["dataDir"];
    dirs.push(join(typeof dataDir === "string" && dataDir !== "" ? dataDir : HOST_LOCAL_DEFAULT_DIR, delegate.name));
  }
  return dirs;
}

export interface Lease {
  ip: string;
  path: string;
  containerId: string;
  /** Absent in leases of host-local releases before 0.9, which kept the container ID alone. */
  ifName?: string;
}

/**
 * host-local's leases in one network's directory: a file per IP, holding the container ID and the
 * interface name on two lines (`\r\n`). Its other files (`lock`, `last_reserved_ip.N`) are not leases.
 */
export function leasesIn(dir: string): Lease[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Lease[] = [];
  for (const name of names.sort()) {
    if (name === "lock" || name.startsWith("last_reserved_ip") || name.startsWith(".")) continue;
    let text: string;
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      continue;
    }
    const [id = "", ifName] = text.split(/\r?\n/);
    const lease: Lease = { ip: name, path: join(dir, name), containerId: id.trim() };
    if (ifName !== undefined && ifName.trim() !== "") lease.ifName = ifName.trim();
    out.push(lease);
  }
  return out;
}

export interface LockProbe {
  path: string;
  /** The sandbox's container ID; "" for the node lock. */
  containerId: string;
  /** busy: some process holds it now (a live operation, or delegates a killed multus left running). */
  state: "free" | "busy";
  note?: HolderNote;
  /** The note's holder process: alive, gone, or in another PID namespace (cannot be told). */
  holder?: "alive" | "gone" | "unknown";
  /** The holder's delegates still running (orphans when the holder is gone). */
  liveDelegates?: string[];
}

const NODE_LOCK = ".node.lock";

/**
 * Every lock file under `<cniDir>/locks`, probed with one non-blocking shared flock(2) (released at
 * once): a holder is never waited for, and an exclusive holder makes the probe fail, nothing else.
 */
export async function probeLocks(cniDir: string): Promise<LockProbe[]> {
  const dir = join(cniDir, "locks");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: LockProbe[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".lock")) continue;
    const path = join(dir, name);
    const probe: LockProbe = { path, containerId: name === NODE_LOCK ? "" : name.slice(0, -".lock".length), state: "free" };
    try {
      // A deadline already passed: one attempt, never a wait.
      const lock = await acquireFileLock(path, { mode: "shared", deadline: Date.now() });
      lock.release();
    } catch (err) {
      if (!(err instanceof LockTimeoutError)) throw err;
      probe.state = "busy";
    }
    const note = readHolderNote(path);
    if (note !== undefined) {
      probe.note = note;
      const state = holderState(note);
      probe.holder = state.holder;
      probe.liveDelegates = state.liveDelegates;
    }
    out.push(probe);
  }
  return out;
}

/** Attachment device-info files (`<deviceInfoDir>/cni/*-device.json`) that no container in `known` owns. */
export function unownedDeviceInfoFiles(deviceInfoDir: string, known: ReadonlySet<string>): string[] {
  const dir = join(deviceInfoDir, "cni");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const marks = [...known].map(containerInfoMark);
  return names.filter((n) => n.endsWith("-device.json") && !marks.some((m) => n.includes(m))).sort().map((n) => join(dir, n));
}
