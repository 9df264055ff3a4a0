// Which namespaces' networks a pod may use (NPWG-27).
//
// Exported API:
//   checkNamespaceIsolation({ podNamespace, podRef, network: { namespace, name }, isolation, globalNamespaces, annotation }): void
//
// Upstream's `namespaceIsolation`: a pod may select a NetworkAttachmentDefinition in its own namespace
// or in one of `globalNamespaces` (default "default"); anything else fails the pod (NPWG-27 "must fail").
// Upstream checks the networks annotation only; Multus-TS checks every network a pod names (the caller
// passes, for the default-network override, multusNamespace as one more allowed namespace: that is
// where the override looks when it names no namespace).
import { MultusError } from "../util/multus-error.ts";

export interface NamespaceIsolationCheck {
  podNamespace: string;
  /** "namespace/name" of the pod, for the message. */
  podRef: string;
  network: { namespace: string; name: string };
  /** The Multus config's `namespaceIsolation`. */
  isolation: boolean;
  /** Namespaces besides the pod's whose networks it may use: `globalNamespaces`, already split (plus multusNamespace for the override). */
  globalNamespaces: readonly string[];
  /** The annotation that names the network (for the message). */
  annotation: string;
}

/** Throws MultusError("MULTUS_ERR_NAMESPACE_ISOLATION") when isolation forbids the pod this network. */
export function checkNamespaceIsolation(c: NamespaceIsolationCheck): void {
  if (!c.isolation) return;
  const ns = c.network.namespace;
  if (ns === c.podNamespace || c.globalNamespaces.includes(ns)) return;
  const allowed = [...new Set([c.podNamespace, ...c.globalNamespaces])].map((n) => JSON.stringify(n)).join(", ");
  throw new MultusError(
    "MULTUS_ERR_NAMESPACE_ISOLATION",
    `pod ${c.podRef}: ${c.annotation} names network ${ns}/${c.network.name}, in namespace ${JSON.stringify(ns)}, but namespaceIsolation lets this pod use networks only from ${allowed}; use a NetworkAttachmentDefinition in the pod's namespace or ask the cluster administrator to add ${JSON.stringify(ns)} to globalNamespaces`,
  );
}
