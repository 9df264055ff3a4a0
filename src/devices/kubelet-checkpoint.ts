// The device manager's checkpoint (<kubelet root>/device-plugins/kubelet_internal_checkpoint): the
// fallback when PodResources cannot answer. Entries are matched by pod UID; `DeviceIDs` is keyed by
// NUMA node in current kubelets ({"0": [...], "-1": [...]}) and a plain list in kubelets before ~1.20.
import { readFile } from "node:fs/promises";
import { isRecord } from "../cni/is-record.ts";
import type { DeviceMap } from "./pod-resources.ts";

function idsOf(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.every((v) => typeof v === "string") ? value : undefined;
  if (!isRecord(value)) return undefined;
  const out: string[] = [];
  // NUMA keys in numeric order, so the result does not depend on JSON key order.
  for (const key of Object.keys(value).sort((a, b) => Number(a) - Number(b))) {
    const ids = value[key];
    if (!Array.isArray(ids) || !ids.every((v) => typeof v === "string")) return undefined;
    // One by one: push(...ids) passes every ID as an argument, a RangeError for a long list.
    for (const id of ids) out.push(id);
  }
  return out;
}

/** The devices recorded for the pod with `podUid`; throws when the file cannot be read or is not a checkpoint. */
export async function checkpointDevices(path: string, podUid: string): Promise<DeviceMap> {
  const text = await readFile(path, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the text, new lines included: keep the message on one line.
    throw new Error(`${path} is not JSON: ${(err as Error).message.replace(/\s+/g, " ").slice(0, 200)}`, { cause: err });
  }
  const data = isRecord(json) ? json["Data"] : undefined;
  const entries = isRecord(data) ? data["PodDeviceEntries"] : undefined;
  if (!Array.isArray(entries)) throw new Error(`${path} has no Data.PodDeviceEntries list: not a device manager checkpoint`);
  const out: DeviceMap = new Map();
  for (const e of entries) {
    if (!isRecord(e) || e["PodUID"] !== podUid || typeof e["ResourceName"] !== "string") continue;
    const ids = idsOf(e["DeviceIDs"]);
    if (ids === undefined) throw new Error(`${path}: the entry of pod ${podUid} for ${JSON.stringify(e["ResourceName"])} has a DeviceIDs that is neither a list nor a NUMA map of lists`);
    out.set(e["ResourceName"], [...(out.get(e["ResourceName"]) ?? []), ...ids]);
  }
  return out;
}
