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
/** Set by the kubelet on pods it did not get from the API: "file" or "http" (static pods), "api" otherwise. */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";
/** On a mirror pod: the static pod's UID as the kubelet (and so the runtime's K8S_POD_UID) knows it. */
export const CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror";
