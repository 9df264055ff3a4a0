// What the API server takes this node's multus identity for, said once at start-up (the daemon, the
// installer): the node-scoped-writes admission policy (deploy/admission, docs/security.md) admits the
// writes of a token bound to a pod on this node, and refuses every other. A token without a node, or
// with another node's, would see each network-status patch refused; the log says so before the first
// pod does.
import type { KubeClient } from "../k8s/kube-client.ts";
import { selfIdentity } from "../k8s/resources.ts";
import type { Logger } from "../util/logger.ts";

/** Never throws: the check only informs (the policy decides, on the API server). */
export async function reportNodeIdentity(client: KubeClient, node: string, log: Logger, signal?: AbortSignal): Promise<void> {
  try {
    const who = await selfIdentity(client, signal === undefined ? {} : { signal });
    if (who.nodeName === node) {
      log.info({ user: who.username, node }, "the API server binds this identity to this node: the node-scoped-writes policy admits its writes for this node's pods");
    } else if (who.nodeName === undefined) {
      log.warn(
        { user: who.username, node },
        "the API server binds this token to no node (not a pod-bound ServiceAccount token, or an API server before 1.30): with the node-scoped-writes policy installed (deploy/admission), every network-status write will be refused (docs/security.md)",
      );
    } else {
      log.error(
        { user: who.username, node, tokenNode: who.nodeName },
        "this token is bound to a pod on another node: the node-scoped-writes policy will refuse network-status writes for this node's pods; check MULTUS_NODE_NAME (the downward API's spec.nodeName)",
      );
    }
  } catch (err) {
    log.warn({ node, error: (err as Error).message }, "cannot ask the API server who this identity is (SelfSubjectReview, Kubernetes 1.28+); the node-scoped-writes policy needs a pod-bound token");
  }
}
