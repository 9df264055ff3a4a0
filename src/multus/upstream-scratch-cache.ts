// Reading Go Multus's scratch cache, so that a node upgraded in place from upstream Multus can still
// DEL the pods that upstream ADDed: `<cniDir>/<containerID>` holds a JSON array of its
// DelegateNetConf records (keys Conf, ConfList, Name, ifnameRequest, macRequest, ipRequest,
// infinibandGUIDRequest, default-route, deviceID, resourceName, Bytes: the delegate's config, base64,
// and for a conflist CNINetworkConfigList, whose Bytes are the list as loaded). The first record is
// the cluster network (upstream marks it master on DEL).
import { readFileSync, unlinkSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { settled } from "../cni/settled.ts";
import { join } from "node:path";
import { CniCode } from "../cni/cni-error.ts";
import { DelegateConfigError, restoreDelegateConfig, type DelegateConfig } from "../cni/delegate-config.ts";
import { MultusError } from "../util/multus-error.ts";
import { delegateCniArgs, type Attachment, type AttachmentPlan } from "./attachment-plan.ts";
import type { CniRequest } from "./config-file-planner.ts";

export function upstreamCachePath(cniDir: string, containerId: string): string {
  return join(cniDir, containerId);
}

/**
 * The plan upstream would DEL; undefined when there is no upstream record; `corrupt` (with the reason)
 * when there is one that cannot be decoded (upstream's own non-atomic writes truncate it, multus#948).
 * Any other read error (EACCES, EIO, a directory in its place) is thrown: a record may be there, and
 * guessing would turn a strict teardown into a best-effort one.
 */
export function readUpstreamScratchCache(cniDir: string, req: CniRequest): Promise<{ plan: AttachmentPlan } | { corrupt: string } | undefined> {
  return settled(() => readRecord(cniDir, req));
}

function readRecord(cniDir: string, req: CniRequest): { plan: AttachmentPlan } | { corrupt: string } | undefined {
  let text: string;
  const path = upstreamCachePath(cniDir, req.containerId);
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MultusError("MULTUS_ERR_CONFIG", `cannot read upstream Multus's record of container ${req.containerId} (${path}): ${(err as Error).message}; fix the file (or remove it if nothing of that sandbox is left) and the runtime's DEL will go on`, { cause: err, cniCode: CniCode.IoFailure });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { corrupt: `not JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(json) || json.length === 0) return { corrupt: "not a non-empty JSON list of delegates" };
  const attachments: Attachment[] = [];
  for (const [index, rec] of json.entries()) {
    let a: Attachment | undefined;
    try {
      a = toAttachment(rec, index, req, path);
    } catch (err) {
      if (err instanceof DelegateConfigError) return { corrupt: `delegate ${String(index)}: ${err.message}` };
      throw err;
    }
    if (a === undefined) return { corrupt: `delegate ${String(index)} has no decodable "Bytes" config` };
    attachments.push(a);
  }
  return { plan: { containerId: req.containerId, netns: req.netns, ifName: req.ifName, attachments } };
}

/** Container IDs with an upstream scratch cache in `cniDir` (regular files named like container IDs). */
export async function listUpstreamScratchCaches(cniDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(cniDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return entries.filter((e) => e.isFile() && CONTAINER_ID.test(e.name)).map((e) => e.name);
}

// CNI's container ID syntax (libcni ValidateContainerID).
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function removeUpstreamScratchCache(cniDir: string, containerId: string): Promise<void> {
  return settled(() => {
    try {
      unlinkSync(upstreamCachePath(cniDir, containerId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  });
}

/** What upstream writes into each plugin of the record's own Bytes after loading: the device and the pod's cni-args. */
const INJECTED_KEYS = ["deviceID", "pciBusID", "args"] as const;

/**
 * The list as loaded, with what upstream injected into the record's copy put back plugin by plugin.
 * When the two lists do not line up (a different plugin count or types), the record's own copy is
 * what upstream ran last: it is taken as is.
 */
function withInjected(loaded: Record<string, unknown>, recorded: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (recorded === undefined) return loaded;
  const lp = loaded["plugins"];
  const rp = recorded["plugins"];
  if (!Array.isArray(lp) || !Array.isArray(rp)) return recorded;
  const typeOf = (p: unknown): unknown => (typeof p === "object" && p !== null ? (p as Record<string, unknown>)["type"] : undefined);
  if (lp.length !== rp.length || lp.some((p, i) => typeOf(p) !== typeOf(rp[i]))) return recorded;
  const plugins = lp.map((p: unknown, i) => {
    const out = { ...(p as Record<string, unknown>) };
    const rec = rp[i] as Record<string, unknown>;
    for (const k of INJECTED_KEYS) if (rec[k] !== undefined) out[k] = rec[k];
    return out;
  });
  return { ...loaded, plugins };
}

/** A base64 JSON object from a record; with `listOnly`, only one with a `plugins` list. */
function decodeConfig(b64: unknown, listOnly: boolean): Record<string, unknown> | undefined {
  if (typeof b64 !== "string" || b64 === "") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const conf = raw as Record<string, unknown>;
  return listOnly && !Array.isArray(conf["plugins"]) ? undefined : conf;
}

function toAttachment(rec: unknown, index: number, req: CniRequest, path: string): Attachment | undefined {
  if (typeof rec !== "object" || rec === null) return undefined;
  const r = rec as Record<string, unknown>;
  // A conflist delegate (the cluster network's file, above all) is run from the list libcni loaded,
  // whose Bytes are the file as it was; the record's own Bytes are Go's re-encoding of its ConfList
  // struct, which keeps only the fields that struct knows (a bridge's `ipam` loses `subnet`: upstream's
  // own DEL fails on it and leaks the lease, multus#1449). So the list's bytes come first.
  const list = r["CNINetworkConfigList"];
  const recorded = decodeConfig(r["Bytes"], false);
  const loaded = typeof list === "object" && list !== null ? decodeConfig((list as Record<string, unknown>)["Bytes"], true) : undefined;
  const conf = loaded === undefined ? recorded : withInjected(loaded, recorded);
  if (conf === undefined) return undefined;
  const fallbackName = typeof r["Name"] === "string" && r["Name"] !== "" ? r["Name"] : undefined;
  if (!Array.isArray(conf["plugins"]) && typeof conf["type"] !== "string") return undefined;
  // What upstream ran: only Multus's own programs are refused (src/cni/delegate-config.ts, records).
  const delegate: DelegateConfig = restoreDelegateConfig(conf, { kind: "record", where: `upstream Multus's record ${path}, delegate ${String(index)}` }, fallbackName === undefined ? {} : { fallbackName });
  const name = delegate.name;
  const str = (k: string): string | undefined => (typeof r[k] === "string" && r[k] !== "" ? r[k] : undefined);
  const ips = Array.isArray(r["ipRequest"]) ? r["ipRequest"].filter((x): x is string => typeof x === "string") : [];
  const mac = str("macRequest");
  const capabilityArgs: Record<string, unknown> = {};
  const legacy: [string, string][] = [];
  if (ips.length > 0) {
    capabilityArgs["ips"] = ips;
    legacy.push(["IP", ips.join(",")]);
  }
  if (mac !== undefined) {
    capabilityArgs["mac"] = mac;
    legacy.push(["MAC", mac]);
  }
  const guid = str("infinibandGUIDRequest");
  if (guid !== undefined) capabilityArgs["infinibandGUID"] = guid;
  const deviceId = str("deviceID");
  if (deviceId !== undefined) capabilityArgs["deviceID"] = deviceId;
  const isDefault = index === 0;
  return {
    index,
    network: r["Name"] !== undefined && typeof r["Name"] === "string" && r["Name"] !== "" ? r["Name"] : name,
    // Upstream's DEL naming: the request, else CNI_IFNAME for the master, else net<position>.
    ifName: str("ifnameRequest") ?? (isDefault ? req.ifName : `net${String(index)}`),
    delegate,
    isDefault,
    cniArgs: delegateCniArgs([...req.cniArgs, ...legacy]),
    capabilityArgs: isDefault ? req.runtimeConfig : capabilityArgs,
  };
}
