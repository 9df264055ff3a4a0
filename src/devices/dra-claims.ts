// Devices of a pod's DRA claims, for networks whose NAD names a resource. Both ways a pod names a
// claim count: `resourceClaimTemplateName` (the claim's name is in status.resourceClaimStatuses) and
// `resourceClaimName` (the claim itself; upstream misses these). Each allocation result is looked up
// in the node's ResourceSlices for the attributes k8s.cni.cncf.io/deviceID (the VF's PCI address) and
// k8s.cni.cncf.io/resourceName, as upstream Multus main does; results without them (a GPU in the same
// claim) are skipped. Each device is also filed under `<pod claim name>/<request>`, the form seed 001's
// NAD (`resourceName: sriov/vf`) uses.
import type { ResourceClaim, ResourceSlice } from "../k8s/dra-resources.ts";
import type { Pod } from "../k8s/resources.ts";
import { MultusError } from "../util/multus-error.ts";
import type { DeviceMap } from "./pod-resources.ts";

export const DEVICE_ID_ATTRIBUTE = "k8s.cni.cncf.io/deviceID";
export const RESOURCE_NAME_ATTRIBUTE = "k8s.cni.cncf.io/resourceName";

export interface DraApi {
  /** undefined when the claim does not exist. */
  getClaim(namespace: string, name: string): Promise<ResourceClaim | undefined>;
  listSlices(nodeName: string, driver: string): Promise<ResourceSlice[]>;
}

/**
 * The pod's claims as (name in the pod, ResourceClaim object name). A template claim without a status
 * entry is not created yet (an error); an entry without a name means none was needed (skipped).
 */
function podClaims(pod: Pod, podRef: string): { name: string; object: string }[] {
  const statuses = pod.status.resourceClaimStatuses ?? [];
  return (pod.spec.resourceClaims ?? []).flatMap((c) => {
    if (c.resourceClaimName !== undefined && c.resourceClaimName !== "") return [{ name: c.name, object: c.resourceClaimName }];
    const status = statuses.find((s) => s.name === c.name);
    if (status === undefined) {
      throw new MultusError(
        "MULTUS_ERR_DEVICE",
        `pod ${podRef}: claim "${c.name}" (template ${c.resourceClaimTemplateName ?? "?"}) has no ResourceClaim yet (status.resourceClaimStatuses); is kube-controller-manager running?`,
      );
    }
    return status.resourceClaimName === undefined || status.resourceClaimName === "" ? [] : [{ name: c.name, object: status.resourceClaimName }];
  });
}

/** Only the newest generation of each pool counts: while a driver republishes, older slices linger. */
function newestGeneration(slices: ResourceSlice[]): ResourceSlice[] {
  const newest = new Map<string, number>();
  for (const s of slices) newest.set(s.spec.pool.name, Math.max(newest.get(s.spec.pool.name) ?? 0, s.spec.pool.generation));
  return slices.filter((s) => s.spec.pool.generation === newest.get(s.spec.pool.name));
}

function stringAttribute(slice: ResourceSlice, device: string, name: string): string | undefined {
  const s = slice.spec.devices.find((d) => d.name === device)?.attributes[name]?.string;
  return s === undefined || s === "" ? undefined : s;
}

export interface DraDevices {
  /** Device IDs by resourceName attribute and by `<claim>/<request>`. */
  devices: DeviceMap;
  /** Each device's own resourceName attribute (its device-info file is named after it). */
  resourceOf: Map<string, string>;
}

/** The devices of every claim of the pod that carry a k8s.cni.cncf.io/deviceID. */
export async function draDevices(pod: Pod, api: DraApi, podRef: string): Promise<DraDevices> {
  const out: DeviceMap = new Map();
  const resourceOf = new Map<string, string>();
  const claims = podClaims(pod, podRef);
  if (claims.length === 0) return { devices: out, resourceOf };
  const node = pod.spec.nodeName ?? "";
  if (node === "") throw new MultusError("MULTUS_ERR_DEVICE", `pod ${podRef} has DRA claims but no spec.nodeName: it is not scheduled`);
  const slices = new Map<string, Promise<ResourceSlice[]>>();
  const slicesOf = (driver: string): Promise<ResourceSlice[]> => {
    let s = slices.get(driver);
    if (s === undefined) {
      s = api.listSlices(node, driver).then(newestGeneration);
      slices.set(driver, s);
    }
    return s;
  };
  const file = (key: string, id: string): void => {
    out.set(key, [...(out.get(key) ?? []), id]);
  };
  for (const c of claims) {
    const claim = await api.getClaim(pod.metadata.namespace, c.object);
    if (claim === undefined) throw new MultusError("MULTUS_ERR_DEVICE", `pod ${podRef}: ResourceClaim ${pod.metadata.namespace}/${c.object} (claim "${c.name}") does not exist`);
    const allocation = claim.status.allocation;
    if (allocation === undefined) {
      throw new MultusError(
        "MULTUS_ERR_DEVICE",
        `pod ${podRef}: ResourceClaim ${pod.metadata.namespace}/${c.object} (claim "${c.name}") is not allocated; the scheduler allocates a claim when it places the pod (a pod with spec.nodeName set by hand bypasses it)`,
      );
    }
    for (const r of allocation.devices.results) {
      const slice = (await slicesOf(r.driver)).find((s) => s.spec.pool.name === r.pool && s.spec.devices.some((d) => d.name === r.device));
      const id = slice === undefined ? undefined : stringAttribute(slice, r.device, DEVICE_ID_ATTRIBUTE);
      if (id === undefined) continue;
      // A sub-request of a prioritized list is `<request>/<subrequest>`: the pod's request is the first part.
      const request = r.request.split("/")[0] ?? r.request;
      file(`${c.name}/${request}`, id);
      const resourceName = slice === undefined ? undefined : stringAttribute(slice, r.device, RESOURCE_NAME_ATTRIBUTE);
      if (resourceName !== undefined) {
        file(resourceName, id);
        resourceOf.set(id, resourceName);
      }
    }
  }
  return { devices: out, resourceOf };
}
