// The devices a pod was given, for the resources its networks name: DRA claims first (through the
// API), then the kubelet's PodResources for what is left (device plugins), then the device manager's
// checkpoint when PodResources cannot answer. The caller assigns them (device-assignment.ts).
import type { Pod } from "../k8s/resources.ts";
import { MultusError } from "../util/multus-error.ts";
import { checkpointDevices } from "./kubelet-checkpoint.ts";
import { draDevices, type DraApi } from "./dra-claims.ts";
import { podResourcesDevices, type DeviceMap } from "./pod-resources.ts";

export interface DeviceLookupDeps {
  podResourcesSocket: string;
  checkpointFile: string;
  /** The pod's API object (spec.resourceClaims, status.resourceClaimStatuses, spec.nodeName). */
  pod: () => Promise<Pod | undefined>;
  /** Claims and slices; undefined when Multus has no API (no DRA then). */
  dra: DraApi | undefined;
  signal: AbortSignal;
}

export interface PodDevices {
  devices: DeviceMap;
  /** Where they came from, for error messages: "DRA claims: …; PodResources: …". */
  sources: string;
  /** The resource each device belongs to, where it differs from the key it was found under (DRA). */
  resourceOf: Map<string, string>;
}

function describe(map: DeviceMap): string {
  if (map.size === 0) return "nothing";
  return [...map].map(([r, ids]) => `${r} ×${String(ids.length)}`).join(", ");
}

/** `namespace`, `name`, `uid` name the pod; `wanted` are the resource names its networks need. */
export async function lookupPodDevices(pod: { namespace: string; name: string; uid: string }, wanted: readonly string[], deps: DeviceLookupDeps): Promise<PodDevices> {
  const podRef = `${pod.namespace}/${pod.name}`;
  const devices: DeviceMap = new Map();
  const sources: string[] = [];
  const resourceOf = new Map<string, string>();
  const object = await deps.pod();
  if (deps.dra !== undefined && object !== undefined && (object.spec.resourceClaims ?? []).length > 0) {
    // A claim that cannot be resolved (not allocated, an API without DRA v1) fails only the networks
    // that need its devices: a device plugin's resource may still be found below. The assignment's
    // error then carries this one.
    try {
      const dra = await draDevices(object, deps.dra, podRef);
      for (const [k, ids] of dra.devices) devices.set(k, ids);
      for (const [id, r] of dra.resourceOf) resourceOf.set(id, r);
      sources.push(`DRA claims: ${describe(dra.devices)}`);
    } catch (err) {
      sources.push(`DRA claims: ${(err as Error).message.replace(`pod ${podRef}: `, "")}`);
    }
  }
  if (wanted.every((r) => devices.has(r))) return { devices, sources: sources.join("; "), resourceOf };

  const socket = deps.podResourcesSocket;
  let fromKubelet: DeviceMap | undefined;
  let kubeletError: string | undefined;
  try {
    fromKubelet = await podResourcesDevices(socket, pod.namespace, pod.name, deps.signal);
    sources.push(`PodResources: ${fromKubelet === undefined ? "the kubelet does not list the pod" : describe(fromKubelet)}`);
  } catch (err) {
    kubeletError = (err as Error).message;
    sources.push(`PodResources (${socket}): ${kubeletError}`);
  }
  if (fromKubelet === undefined) {
    const uid = pod.uid !== "" ? pod.uid : (object?.metadata.uid ?? "");
    const file = deps.checkpointFile;
    try {
      fromKubelet = await checkpointDevices(file, uid);
      sources.push(`checkpoint ${file}: ${describe(fromKubelet)}`);
    } catch (err) {
      if (kubeletError !== undefined) {
        throw new MultusError(
          "MULTUS_ERR_DEVICE",
          `pod ${podRef}: cannot tell which devices the kubelet gave the pod: PodResources (${socket}): ${kubeletError}; and the checkpoint (${file}): ${(err as Error).message}; check that the kubelet runs, and "podResourcesSocket" and "deviceCheckpointFile" in the Multus config`,
          { cause: err },
        );
      }
      sources.push(`checkpoint ${file}: ${(err as Error).message}`);
    }
  }
  for (const [k, ids] of fromKubelet ?? []) if (!devices.has(k)) devices.set(k, ids);
  return { devices, sources: sources.join("; "), resourceOf };
}
