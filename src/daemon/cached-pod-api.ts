// The engine's PodApi in the daemon: reads come from the informer caches (this node's pods, every
// NAD), so the ADD path has no API round trip; a live GET is made only when the cache cannot be
// trusted for that read — a pod that is missing (created a moment ago) or has another UID (recreated
// under the same name), or an informer that is stale (no event or bookmark for informerStaleSeconds).
// A NAD missing from a fresh cache does not exist: the cluster network named like a NAD but found as
// a file (the usual set-up) would otherwise cost a GET on every ADD. A NAD created after the pod's
// sandbox started may thus be reported missing for the watch's latency; the runtime retries the ADD. Writes (the network-status patch) go to the API within the request's
// budget. Events are queued and sent off the critical path: they are informational, and a slow or
// failing events API must not delay a pod. The queue is drained EVENT_DELAY_MS after its first event,
// so that building and sending the requests (≈ 1 ms of the one JavaScript thread each) happens neither
// before the ADD is answered nor while the calls right after it are served (a burst, or a DEL that
// follows at once).
import { setTimeout as sleep } from "node:timers/promises";
import type { Informer } from "../k8s/informer.ts";
import type { KubeClient } from "../k8s/kube-client.ts";
import { getResourceClaim, listResourceSlices } from "../k8s/dra-resources.ts";
import { createEvent, decodePod, getLegacyNetwork, getNetworkAttachmentDefinition, getPod, patchPodNetworkStatus, podUidMatches, type Pod } from "../k8s/resources.ts";
import { keepAnnotations, NAD_ANNOTATIONS_READ, POD_ANNOTATIONS_READ } from "../k8s/annotations.ts";
import { unlessNotFound, unlessObjectNotFound, type PodApi } from "../multus/kube-pod-api.ts";
import type { PodRef } from "../multus/attachment-plan.ts";
import { isRecord } from "../cni/is-record.ts";
import type { Logger } from "../util/logger.ts";

/** How long queued events wait before they are sent (see the header). */
const EVENT_DELAY_MS = 100;

export interface CachedPodApiOptions {
  client: KubeClient;
  pods: Informer<Pod>;
  nads: Informer<unknown>;
  node: string;
  log: Logger;
  /** Events waiting to be sent; beyond this, new ones are dropped (and logged). Default 1000. */
  maxQueuedEvents?: number;
  /** Counts the reads a cache could not answer (metrics). */
  onLiveRead?: (kind: "pod" | "nad", why: "missing" | "stale" | "uid") => void;
}

interface QueuedEvent {
  pod: PodRef;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** A NAD as the daemon keeps it: what the resolver reads (metadata with annotations, spec.config). */
/** A pod as the informer keeps it: decodePod's fields, and of its annotations only those the engine reads. */
export function cachedPod(raw: unknown): Pod {
  const pod = decodePod(raw);
  return { ...pod, metadata: { ...pod.metadata, annotations: keepAnnotations(pod.metadata.annotations, POD_ANNOTATIONS_READ), labels: {} } };
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.values(v).every((x) => typeof x === "string");
}

export function stripNad(raw: unknown): unknown {
  if (!isRecord(raw) || !isRecord(raw["metadata"])) throw new TypeError("a NetworkAttachmentDefinition without metadata");
  const m = raw["metadata"];
  return {
    apiVersion: raw["apiVersion"],
    kind: raw["kind"],
    metadata: { name: m["name"], namespace: m["namespace"], uid: m["uid"], resourceVersion: m["resourceVersion"], annotations: isStringMap(m["annotations"]) ? keepAnnotations(m["annotations"], NAD_ANNOTATIONS_READ) : (m["annotations"] ?? {}) },
    spec: raw["spec"] ?? {},
  };
}

export class CachedPodApiFactory {
  readonly #o: CachedPodApiOptions;
  readonly #events: QueuedEvent[] = [];
  #sending = false;
  #idle: Promise<void> = Promise.resolve();
  #dropped = 0;

  constructor(opts: CachedPodApiOptions) {
    this.#o = opts;
  }

  /** The PodApi of one request; its API calls end when `signal` fires (the request's budget). */
  forRequest(signal: AbortSignal): PodApi {
    const o = this.#o;
    return {
      getPod: async (namespace, name, uid) => {
        const cached = o.pods.get(namespace, name);
        if (cached !== undefined && o.pods.fresh() && (uid === undefined || uid === "" || podUidMatches(cached, uid))) return cached;
        o.onLiveRead?.("pod", cached === undefined ? "missing" : o.pods.fresh() ? "uid" : "stale");
        return unlessNotFound(getPod(o.client, namespace, name, { signal }));
      },
      getNad: async (namespace, name) => {
        if (o.nads.fresh()) return o.nads.get(namespace, name);
        o.onLiveRead?.("nad", "stale");
        return unlessNotFound(getNetworkAttachmentDefinition(o.client, namespace, name, { signal }));
      },
      // Legacy Network objects (opt-in, a deprecated API) are read live: no watch on a CRD that most
      // clusters do not have; a legacy pod's ADD pays one GET per network.
      getLegacyNetwork: (namespace, name) => unlessObjectNotFound(getLegacyNetwork(o.client, namespace, name, { signal })),
      // DRA objects are read live: only pods with claims need them, once per ADD.
      getResourceClaim: (namespace, name) => unlessObjectNotFound(getResourceClaim(o.client, namespace, name, { signal })),
      listResourceSlices: (nodeName, driver) => listResourceSlices(o.client, nodeName, driver, { signal }),
      patchNetworkStatus: async (pod, json) => {
        await patchPodNetworkStatus(o.client, pod, json, { signal });
      },
      event: (pod, type, reason, message) => {
        this.#enqueue({ pod, type, reason, message });
        return Promise.resolve();
      },
      close() {
        // The client and the caches outlive the request.
      },
    };
  }

  /** Resolves once every queued event was sent (or failed); shutdown waits for it, bounded by the caller. */
  flush(): Promise<void> {
    return this.#idle;
  }

  #enqueue(e: QueuedEvent): void {
    if (this.#events.length >= (this.#o.maxQueuedEvents ?? 1000)) {
      this.#dropped++;
      if (this.#dropped === 1 || this.#dropped % 100 === 0) this.#o.log.warn({ dropped: this.#dropped }, "event queue full; Kubernetes events dropped");
      return;
    }
    this.#events.push(e);
    if (!this.#sending) {
      this.#sending = true;
      this.#idle = sleep(EVENT_DELAY_MS).then(() => this.#drain());
    }
  }

  async #drain(): Promise<void> {
    try {
      for (let e = this.#events.shift(); e !== undefined; e = this.#events.shift()) {
        try {
          await createEvent(this.#o.client, {
            involvedObject: { namespace: e.pod.namespace, name: e.pod.name, uid: e.pod.uid },
            reason: e.reason,
            message: e.message,
            type: e.type,
            reportingComponent: "multus",
            reportingInstance: this.#o.node,
          });
        } catch (err) {
          this.#o.log.warn({ pod: `${e.pod.namespace}/${e.pod.name}`, reason: e.reason, error: (err as Error).message }, "event not recorded");
        }
      }
    } finally {
      this.#sending = false;
    }
  }
}
