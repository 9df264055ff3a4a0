// What the engine needs from the Kubernetes API, over the k8s client: the pod, NADs, the
// network-status annotation and events. Built once per CNI call in thin mode (the daemon has its own,
// over informer caches: src/daemon/cached-pod-api.ts).
import { hostname } from "node:os";
import { tokenNodeName } from "../k8s/bearer-token.ts";
import { resolveClientConfig } from "../k8s/client-config.ts";
import { getResourceClaim, listResourceSlices, type ResourceClaim, type ResourceSlice } from "../k8s/dra-resources.ts";
import { isNotFound, KubeNotFoundError } from "../k8s/kube-api-error.ts";
import { KubeClient } from "../k8s/kube-client.ts";
import { createEvent, getLegacyNetwork, getNetworkAttachmentDefinition, getPod, patchPodNetworkStatus, type Pod } from "../k8s/resources.ts";
import type { Logger } from "../util/logger.ts";
import type { PodRef } from "./attachment-plan.ts";
import type { MultusConfig } from "./multus-config.ts";
import type { NadGetter } from "./network-resolver.ts";

export interface PodApi {
  /**
   * undefined when the pod does not exist. `uid` (the runtime's K8S_POD_UID, may be "") lets a cached
   * implementation tell a stale copy of a recreated pod from the current one.
   */
  getPod(namespace: string, name: string, uid?: string): Promise<Pod | undefined>;
  getNad: NadGetter;
  /** Multus v1's kubernetes.com/v1 Network objects (legacyNetworks): undefined on 404; a type not served rejects. */
  getLegacyNetwork: NadGetter;
  /** DRA (resource.k8s.io/v1): a claim of the pod (undefined on 404) and the slices of a node's driver. */
  getResourceClaim(namespace: string, name: string): Promise<ResourceClaim | undefined>;
  listResourceSlices(nodeName: string, driver: string): Promise<ResourceSlice[]>;
  /** A merge patch of pods/status; with the pod's UID as a precondition, so a recreated pod is never touched. */
  patchNetworkStatus(pod: PodRef, networkStatusJson: string): Promise<void>;
  /** Best-effort: an event never fails a CNI operation. */
  event(pod: PodRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
  close(): void;
}

/**
 * The API as configured (`kubeconfig`, else in-cluster), or undefined when Multus has none. Every
 * request ends when `signal` fires (the operation's budget).
 */
export async function createPodApi(config: MultusConfig, log: Logger, signal: AbortSignal): Promise<PodApi | undefined> {
  const clientConfig = await resolveClientConfig(config.kubeconfig);
  if (clientConfig === undefined) return undefined;
  const client = new KubeClient(clientConfig, { logger: log, userAgent: "multus-ts", signal });
  // The reporting node of events: the DaemonSet's downward API where there is one, else the node the
  // installer's pod-bound token names (the node-scoped-writes policy checks it against the token's),
  // else the host name.
  const node = process.env["MULTUS_NODE_NAME"] ?? tokenNodeName(clientConfig.token) ?? hostname();
  return {
    getPod: (namespace, name) => unlessNotFound(getPod(client, namespace, name)),
    getNad: (namespace, name) => unlessNotFound(getNetworkAttachmentDefinition(client, namespace, name)),
    getLegacyNetwork: (namespace, name) => unlessObjectNotFound(getLegacyNetwork(client, namespace, name)),
    getResourceClaim: (namespace, name) => unlessObjectNotFound(getResourceClaim(client, namespace, name)),
    listResourceSlices: (nodeName, driver) => listResourceSlices(client, nodeName, driver),
    async patchNetworkStatus(pod, json) {
      await patchPodNetworkStatus(client, pod, json);
    },
    async event(pod, type, reason, message) {
      try {
        await createEvent(client, {
          involvedObject: { namespace: pod.namespace, name: pod.name, uid: pod.uid },
          reason,
          message,
          type,
          reportingComponent: "multus",
          reportingInstance: node,
        });
      } catch (err) {
        log.warn({ pod: `${pod.namespace}/${pod.name}`, reason, error: (err as Error).message }, "event not recorded");
      }
    },
    close() {
      client.close();
    },
  };
}

/** As unlessNotFound, but an API server that does not serve the type at all is an error, not a missing object. */
export async function unlessObjectNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (isNotFound(err) && !(err instanceof KubeNotFoundError && err.typeNotServed)) return undefined;
    throw err;
  }
}

/** The object, or undefined when the API answers 404. */
export async function unlessNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
