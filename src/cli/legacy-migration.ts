// What `multusctl migrate` turns Multus v1's legacy API into (docs/legacy-networks.md, "Migrating"):
// pure functions, no I/O.
//
// Exported API:
//   MIGRATED_FROM_ANNOTATION
//   nadForLegacyNetwork(net: LegacyNetwork): NadObject
//       a NetworkAttachmentDefinition of the same name and namespace whose spec.config is exactly the
//       body the engine runs for the Network (legacyNetworkConfig), so the pod gets the same delegate
//   migratedAnnotations(annotations, namespace, podRef): AnnotationChange | undefined
//       the annotations that replace a legacy `networks` annotation, or undefined when there is none
//
// The equivalence (the planner's rules, src/multus/pod-planner.ts): a legacy pod's first Network is its
// cluster network and the others are net0, net1, …; a NAD pod gets the same with
// `v1.multus-cni.io/default-network: <ns>/<first>` (the override replaces the cluster network) and
// `k8s.v1.cni.cncf.io/networks` naming the others with explicit interface names net0, net1, … (without
// them they would be net1, net2, …). The legacy annotation is removed: with legacyNetworks on, a pod
// carrying both it and a default-network override is refused (two cluster networks).
import { DEFAULT_NETWORK_ANNOTATION, LEGACY_NETWORKS_ANNOTATION, NETWORKS_ANNOTATION } from "../k8s/annotations.ts";
import { MultusError } from "../util/multus-error.ts";
import { legacyNetworkConfig, parseLegacyNetworksAnnotation, type LegacyNetwork } from "../netattach/legacy-network.ts";

/** Set on every NAD migrate creates: where it came from (and so which NADs a rollback may delete). */
export const MIGRATED_FROM_ANNOTATION = "multus-ts.io/migrated-from";

export interface NadObject {
  apiVersion: "k8s.cni.cncf.io/v1";
  kind: "NetworkAttachmentDefinition";
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: { config: string };
}

export function nadForLegacyNetwork(net: LegacyNetwork): NadObject {
  return {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name: net.metadata.name, namespace: net.metadata.namespace, annotations: { [MIGRATED_FROM_ANNOTATION]: `kubernetes.com/v1 Network ${net.metadata.namespace}/${net.metadata.name}` } },
    spec: { config: JSON.stringify(legacyNetworkConfig(net), null, 2) },
  };
}

export interface AnnotationChange {
  /** The Network names the legacy annotation selects, in order. */
  networks: string[];
  /** Keys to set; `null` removes the key (a JSON merge patch of the annotations). */
  patch: Record<string, string | null>;
  /** The annotations after the change. */
  after: Record<string, string>;
}

/** Throws MULTUS_ERR_BAD_SELECTION (naming `podRef`) for a legacy annotation the engine would refuse too. */
export function migratedAnnotations(annotations: Readonly<Record<string, string>>, namespace: string, podRef: string): AnnotationChange | undefined {
  const text = annotations[LEGACY_NETWORKS_ANNOTATION];
  if (text === undefined) return undefined;
  const networks = parseLegacyNetworksAnnotation(text, podRef);
  const patch: Record<string, string | null> = { [LEGACY_NETWORKS_ANNOTATION]: null };
  const [first, ...rest] = networks;
  // A pod that already selects NADs never read its legacy annotation: only the stale key goes.
  const alreadyNpwg = (annotations[NETWORKS_ANNOTATION]?.trim() ?? "") !== "";
  if (!alreadyNpwg && networks.length > 0 && (annotations[DEFAULT_NETWORK_ANNOTATION]?.trim() ?? "") !== "") {
    throw new MultusError(
      "MULTUS_ERR_BAD_SELECTION",
      `${podRef}: both ${DEFAULT_NETWORK_ANNOTATION} and the legacy "${LEGACY_NETWORKS_ANNOTATION}" annotation choose the cluster network (Multus refuses such a pod); keep one of them, then migrate`,
    );
  }
  if (!alreadyNpwg && first !== undefined) {
    patch[DEFAULT_NETWORK_ANNOTATION] = `${namespace}/${first}`;
    if (rest.length > 0) patch[NETWORKS_ANNOTATION] = JSON.stringify(rest.map((name, i) => ({ name, interface: `net${String(i)}` })));
  }
  const after: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...annotations, ...patch })) if (v !== null) after[k] = v;
  return { networks, patch, after };
}
