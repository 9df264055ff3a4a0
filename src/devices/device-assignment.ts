// Which device each network gets (pure): per resource, the pod's device IDs in sorted order (for PCI
// addresses, PCI order). A network whose selection names a `deviceID` gets exactly that device, which
// must be one the kubelet (device plugin or DRA) gave the pod for the network's resource: a pod must not
// pick the PF, the node's uplink or another pod's VF. The other networks naming a resource take the
// next free device in plan order (the cluster network, defaultNetworks, then the annotation's order).
// Running out, or naming a device the pod was not given, is an error here, before any delegate runs.
import { MultusError } from "../util/multus-error.ts";
import type { DeviceMap } from "./pod-resources.ts";

export interface DeviceDemand {
  /** The attachment's position in the plan. */
  index: number;
  network: string;
  resourceName: string;
  /** The selection's own `deviceID`, when it names one. */
  requested?: string;
  /** The selection element that names it (for the message). */
  element?: number;
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
  const idsOf = (resource: string): string[] => [...new Set(devices.get(resource) ?? [])].sort();
  // The named devices first: a later "next free" must not take a device a selection asked for.
  for (const d of demands) {
    if (d.requested === undefined) continue;
    const ids = idsOf(d.resourceName);
    const where = `network "${d.network}"${d.element === undefined ? "" : ` (element ${String(d.element)})`}`;
    if (!ids.includes(d.requested)) {
      throw new MultusError(
        "MULTUS_ERR_DEVICE",
        `pod ${podRef}: ${where} asks for device "${d.requested}" of resource "${d.resourceName}", but the kubelet gave the pod ${ids.length === 0 ? "no device" : `only ${ids.join(", ")}`} of that resource (${sources}); a pod may use only its own devices: remove "deviceID" from the selection, or name one of those`,
      );
    }
    const other = taken.get(d.requested);
    if (other !== undefined) {
      throw new MultusError("MULTUS_ERR_DEVICE", `pod ${podRef}: ${where} asks for device "${d.requested}", which network "${other}" already has; name another of ${ids.join(", ")}`);
    }
    taken.set(d.requested, d.network);
    out.set(d.index, d.requested);
  }
  for (const d of demands) {
    if (d.requested !== undefined) continue;
    const ids = idsOf(d.resourceName);
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
