// Which pod a CNI call is for, and its annotations: from the runtime when it sends them (containerd's
// `io.kubernetes.cri.pod-annotations` capability, no API round trip), else from the API (thin mode: a
// GET; the daemon: its informer cache, with a live GET when the cache misses or is stale).
import { CONFIG_SOURCE_ANNOTATION } from "../k8s/annotations.ts";
import { podUidMatches, type Pod } from "../k8s/resources.ts";
import { MultusError } from "../util/multus-error.ts";
import type { PodRef } from "./attachment-plan.ts";
import type { PodApi } from "./kube-pod-api.ts";

/** containerd passes every pod annotation in runtimeConfig when Multus declares this capability. */
export const POD_ANNOTATIONS_CAPABILITY = "io.kubernetes.cri.pod-annotations";

/** The pod the runtime names in CNI_ARGS, when it names one (namespace and name both set). */
export function podIdentity(cniArgs: readonly [string, string][]): PodRef | undefined {
  const get = (k: string): string => cniArgs.find(([key]) => key === k)?.[1] ?? "";
  const namespace = get("K8S_POD_NAMESPACE");
  const name = get("K8S_POD_NAME");
  if (namespace === "" || name === "") return undefined;
  return { namespace, name, uid: get("K8S_POD_UID") };
}

/** The pod annotations the runtime put in runtimeConfig (keys matched case-insensitively, as containerd capitalises). */
export function runtimeAnnotations(runtimeConfig: Record<string, unknown>): Record<string, string> | undefined {
  const key = Object.keys(runtimeConfig).find((k) => k.toLowerCase() === POD_ANNOTATIONS_CAPABILITY);
  const value = key === undefined ? undefined : runtimeConfig[key];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * The pod's identity (with the API's UID) and annotations. A static pod is looked up through its
 * mirror pod, whose UID differs from the runtime's; a pod recreated under the same name is refused.
 */
export async function podAnnotations(
  runtimeConfig: Record<string, unknown>,
  api: PodApi,
  podId: PodRef,
): Promise<{ pod: PodRef; annotations: Record<string, string>; object?: Pod }> {
  const fromRuntime = runtimeAnnotations(runtimeConfig);
  if (fromRuntime !== undefined && podId.uid !== "" && (fromRuntime[CONFIG_SOURCE_ANNOTATION] ?? "api") === "api") {
    return { pod: podId, annotations: fromRuntime };
  }
  const pod = await api.getPod(podId.namespace, podId.name, podId.uid);
  const podRef = `${podId.namespace}/${podId.name}`;
  if (pod === undefined) {
    throw new MultusError("MULTUS_ERR_POD_NOT_FOUND", `pod ${podRef} does not exist (deleted before its sandbox was set up); nothing was attached`);
  }
  if (podId.uid !== "" && !podUidMatches(pod, podId.uid)) {
    throw new MultusError("MULTUS_ERR_POD_NOT_FOUND", `pod ${podRef} was recreated: the runtime asked for UID ${podId.uid}, the API has ${pod.metadata.uid}; nothing was attached`);
  }
  return { pod: { ...podId, uid: pod.metadata.uid }, annotations: fromRuntime ?? pod.metadata.annotations, object: pod };
}
