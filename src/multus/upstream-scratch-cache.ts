// Reading Go Multus's scratch cache, so that a node upgraded in place from upstream Multus can still
// DEL the pods that upstream ADDed: `<cniDir>/<containerID>` holds a JSON array of its
// DelegateNetConf records (keys Conf, ConfList, Name, ifnameRequest, macRequest, ipRequest,
// infinibandGUIDRequest, default-route, deviceID, resourceName, and Bytes: the delegate's raw
// config, base64). The first record is the cluster network (upstream marks it master on DEL).
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { NetConf, NetConfList } from "../cni/types.ts";
import { delegateCniArgs, type Attachment, type AttachmentPlan } from "./attachment-plan.ts";
import type { CniRequest } from "./config-file-planner.ts";

export function upstreamCachePath(cniDir: string, containerId: string): string {
  return join(cniDir, containerId);
}

/** The plan upstream would DEL, or undefined when there is no (usable) upstream record. */
export async function readUpstreamScratchCache(cniDir: string, req: CniRequest): Promise<AttachmentPlan | undefined> {
  let text: string;
  try {
    text = await readFile(upstreamCachePath(cniDir, req.containerId), "utf8");
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(json) || json.length === 0) return undefined;
  const attachments: Attachment[] = [];
  for (const [index, rec] of json.entries()) {
    const a = toAttachment(rec, index, req);
    if (a === undefined) return undefined;
    attachments.push(a);
  }
  return { containerId: req.containerId, netns: req.netns, ifName: req.ifName, attachments };
}

export async function removeUpstreamScratchCache(cniDir: string, containerId: string): Promise<void> {
  await rm(upstreamCachePath(cniDir, containerId), { force: true });
}

function toAttachment(rec: unknown, index: number, req: CniRequest): Attachment | undefined {
  if (typeof rec !== "object" || rec === null) return undefined;
  const r = rec as Record<string, unknown>;
  if (typeof r["Bytes"] !== "string") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(r["Bytes"], "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const conf = raw as Record<string, unknown>;
  const name = typeof conf["name"] === "string" ? conf["name"] : typeof r["Name"] === "string" ? r["Name"] : "";
  const cniVersion = typeof conf["cniVersion"] === "string" ? conf["cniVersion"] : "0.1.0";
  let delegate: NetConfList;
  if (Array.isArray(conf["plugins"])) {
    delegate = { ...conf, name, cniVersion, plugins: conf["plugins"] as NetConf[] };
  } else if (typeof conf["type"] === "string") {
    delegate = { cniVersion, name, plugins: [conf as NetConf] };
  } else {
    return undefined;
  }
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
