// Every annotation name Multus reads or writes, defined once. They live in the lowest layer that needs
// them (k8s/ patches network-status and recognises static pods); netattach/ and multus/ import them.

/** NPWG: the pod's network selection (comma form or JSON list). */
export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
/** NPWG: what each attachment got, written by Multus after ADD. */
export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** NPWG: on a NetworkAttachmentDefinition, the device-plugin resource its devices come from. */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";
/** Multus: a pod's override of the cluster network (one NAD). */
export const DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";
/**
 * Multus v1 (seeds 002/003): the legacy selection `[{"name":"flannel-conf"},{"name":"ptp-conf"}]` of
 * `kubernetes.com/v1` Network objects; read only with `legacyNetworks` (docs/legacy-networks.md).
 */
export const LEGACY_NETWORKS_ANNOTATION = "networks";
/** Set by the kubelet on pods it did not get from the API: "file" or "http" (static pods), "api" otherwise. */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";
/** On a mirror pod: the static pod's UID as the kubelet (and so the runtime's K8S_POD_UID) knows it. */
export const CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/** The pod annotations the engine reads: all a cache of pods needs to keep (src/daemon). */
export const POD_ANNOTATIONS_READ: ReadonlySet<string> = new Set([NETWORKS_ANNOTATION, LEGACY_NETWORKS_ANNOTATION, DEFAULT_NETWORK_ANNOTATION, CONFIG_SOURCE_ANNOTATION, CONFIG_MIRROR_ANNOTATION]);
/** The NetworkAttachmentDefinition annotations the engine reads. */
export const NAD_ANNOTATIONS_READ: ReadonlySet<string> = new Set([RESOURCE_NAME_ANNOTATION]);

/** Only the annotations of `keep`: what an informer caches of an object (a tenant's other annotations can be 256 KiB each). */
export function keepAnnotations(annotations: Readonly<Record<string, string>>, keep: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keep) {
    const v = annotations[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
