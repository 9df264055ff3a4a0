// Which device each network gets (pure): per resource, the pod's device IDs in sorted order (for PCI
// addresses, PCI order), handed out to the networks naming that resource in plan order (the cluster
// network, defaultNetworks, then the annotation's order). Running out is an error here, before any
// delegate runs, instead of sriov-cni's "VF pci addr is required" after others did.
import { MultusError } from "../util/multus-error.ts";
import type { DeviceMap } from "./pod-resources.ts";

export interface DeviceDemand {
  /** The attachment's position in the plan. */
  index: number;
  network: string;
  resourceName: string;
}

/**
 * Device ID by attachment index. `sources` says where the map came from (for the error). A device is
 * given once: the same VF can be found under two names (a DRA claim's `<claim>/<request>` and its
 * resourceName attribute), and two networks must not both get it.
 */
export function assignDevices(demands: readonly DeviceDemand[], devices: DeviceMap, podRef: string, sources: string): Map<number, string> {
  const out = new Map<number, string>();
  const taken = new Map<string, string>();
  const byResource = new Map<string, DeviceDemand[]>();
  for (const d of demands) byResource.set(d.resourceName, [...(byResource.get(d.resourceName) ?? []), d]);
  for (const d of demands) {
    const ids = [...new Set(devices.get(d.resourceName) ?? [])].sort();
    const wanting = byResource.get(d.resourceName) ?? [d];
    const networks = wanting.map((w) => `"${w.network}"`).join(", ");
    if (ids.length === 0) {
      throw new MultusError(
        "MULTUS_ERR_DEVICE",
        `pod ${podRef}: network ${networks} needs a device of resource "${d.resourceName}" (the k8s.v1.cni.cncf.io/resourceName of its NetworkAttachmentDefinition), but the pod was given none (${sources}); request "${d.resourceName}" in a container's resources (requests and limits), or name a DRA claim whose devices carry that resource`,
      );
    }
    const free = ids.find((id) => !taken.has(id));
    if (free === undefined) {
      const elsewhere = ids.filter((id) => !wanting.some((w) => out.get(w.index) === id)).map((id) => `${id} to network "${taken.get(id) ?? ""}"`);
      throw new MultusError(
        "MULTUS_ERR_DEVICE",
        `pod ${podRef}: ${String(wanting.length)} networks (${networks}) need a device of resource "${d.resourceName}" each, but the pod was given ${String(ids.length)} (${ids.join(", ")})${elsewhere.length > 0 ? `, and ${elsewhere.join(", ")} already` : ""}; request ${String(wanting.length)} "${d.resourceName}" or select fewer networks`,
      );
    }
    taken.set(free, d.network);
    out.set(d.index, free);
  }
  return out;
}
