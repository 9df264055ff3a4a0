// Which namespaces' networks a pod may use (NPWG-27) and which pods skip the default networks.
//
// Exported API:
//   checkNamespaceIsolation({ podNamespace, podRef, network: { namespace, name }, isolation, globalNamespaces }): void
//   isSystemNamespace(podNamespace, systemNamespaces): boolean
//
// Upstream's `namespaceIsolation`: a pod may select a NetworkAttachmentDefinition in its own namespace
// or in one of `globalNamespaces` (default "default"); anything else fails the pod (NPWG-27 "must fail").
// Upstream once passed the pod's *name* to its system-namespace check; both functions here take the
// pod's namespace.
import { MultusError } from "../util/multus-error.ts";

export interface NamespaceIsolationCheck {
  podNamespace: string;
  /** "namespace/name" of the pod, for the message. */
  podRef: string;
  network: { namespace: string; name: string };
  /** The Multus config's `namespaceIsolation`. */
  isolation: boolean;
  /** The Multus config's `globalNamespaces`, already split. */
  globalNamespaces: readonly string[];
}

/** Throws MultusError("MULTUS_ERR_NAMESPACE_ISOLATION") when isolation forbids the pod this network. */
export function checkNamespaceIsolation(c: NamespaceIsolationCheck): void {
  if (!c.isolation) return;
  const ns = c.network.namespace;
  if (ns === c.podNamespace || c.globalNamespaces.includes(ns)) return;
  const allowed = [c.podNamespace, ...c.globalNamespaces.filter((g) => g !== c.podNamespace)].map((n) => JSON.stringify(n)).join(", ");
  throw new MultusError(
    "MULTUS_ERR_NAMESPACE_ISOLATION",
    `pod ${c.podRef}: network ${ns}/${c.network.name} is in namespace ${JSON.stringify(ns)}, but namespaceIsolation lets this pod use networks only from ${allowed}; use a NetworkAttachmentDefinition in the pod's namespace or add ${JSON.stringify(ns)} to globalNamespaces`,
  );
}

/**
 * Whether the pod's namespace is one of `systemNamespaces` (its pods get the cluster network but not
 * `defaultNetworks`). Takes the namespace, not the pod name (upstream's bug).
 */
export function isSystemNamespace(podNamespace: string, systemNamespaces: readonly string[]): boolean {
  return systemNamespaces.includes(podNamespace);
}
