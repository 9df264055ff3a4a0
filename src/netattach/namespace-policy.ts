// Which namespaces' networks a pod may use (NPWG-27).
//
// Exported API:
//   checkNamespaceIsolation({ podNamespace, podRef, network: { namespace, name }, isolation, globalNamespaces }): void
//
// Upstream's `namespaceIsolation`: a pod may select a NetworkAttachmentDefinition in its own namespace
// or in one of `globalNamespaces` (default "default"); anything else fails the pod (NPWG-27 "must fail").
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
