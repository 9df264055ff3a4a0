// Typed helpers for the API objects the Multus engine reads and writes: the pod (validated down to
// the fields Multus uses), NetworkAttachmentDefinitions (raw; netattach decodes them), the
// network-status annotation (a merge patch of pods/status) and events.
//
// Exported API:
//   interface Pod                         — the minimal validated pod (see podSchema)
//   decodePod(value): Pod                 — validation at the edge; throws with the failing field's path
//   podPath(ns, name?, subresource?) / nadPath(ns, name?): string
//   getPod(client, ns, name, opts?): Promise<Pod>
//       404 → KubeNotFoundError with code MULTUS_ERR_POD_NOT_FOUND (isNotFound)
//   getNetworkAttachmentDefinition(client, ns, name, opts?): Promise<unknown>
//       404 → KubeNotFoundError with code MULTUS_ERR_NAD_NOT_FOUND; a missing CRD says so
//   patchPodNetworkStatus(client, { namespace, name, uid? }, networkStatusJson, opts?): Promise<void>
//       one MERGE PATCH of pods/<name>/status setting metadata.annotations[NETWORK_STATUS_ANNOTATION]:
//       no GET + PUT, so no conflict loop (upstream does GET + PUT with retries); the pod's UID, when
//       given, is a precondition (409 for a recreated pod). The apiserver's pod
//       status strategy keeps metadata changes on the status subresource for annotations — verified by
//       test/k8s/k8s-resources.test.ts against a real kube-apiserver.
//   createEvent(client, event, opts?): Promise<string>  — returns the event's name
//       core/v1 Event (see createEvent's comment for why not events.k8s.io/v1); name `<pod>.<16 hex>`.
//       Callers must catch: an event never fails a CNI operation.
//   selfIdentity(client, opts?): Promise<{ username, nodeName? }>  — SelfSubjectReview: who the API
//       server takes these credentials for, and the node a pod-bound token carries (docs/security.md)
//   isStaticPod(pod), mirrorPodUid(pod), podUidMatches(pod, uid)
//   NETWORK_STATUS_ANNOTATION, CONFIG_SOURCE_ANNOTATION, CONFIG_MIRROR_ANNOTATION
import * as v from "valibot";
import { apiPath } from "./api-path.ts";
import { MultusError } from "../util/multus-error.ts";
import { KubeApiError } from "./kube-api-error.ts";
import type { KubeClient, RequestOptions } from "./kube-client.ts";
import { NETWORK_STATUS_ANNOTATION, CONFIG_SOURCE_ANNOTATION, CONFIG_MIRROR_ANNOTATION } from "./annotations.ts";
import { isRecord } from "../cni/is-record.ts";


const stringMap = v.optional(v.record(v.string(), v.string()), {});

const podSchema = v.object({
  metadata: v.object({
    name: v.string(),
    namespace: v.string(),
    uid: v.string(),
    resourceVersion: v.optional(v.string()),
    annotations: stringMap,
    labels: stringMap,
    ownerReferences: v.optional(
      v.array(
        v.object({
          apiVersion: v.string(),
          kind: v.string(),
          name: v.string(),
          uid: v.string(),
          controller: v.optional(v.boolean()),
        }),
      ),
    ),
  }),
  spec: v.optional(
    v.object({
      nodeName: v.optional(v.string()),
      // DRA: the pod's claims by name; the claim objects are resolved through status.resourceClaimStatuses.
      resourceClaims: v.optional(
        v.array(
          v.object({
            name: v.string(),
            resourceClaimName: v.optional(v.string()),
            resourceClaimTemplateName: v.optional(v.string()),
          }),
        ),
      ),
    }),
    {},
  ),
  status: v.optional(
    v.object({
      resourceClaimStatuses: v.optional(v.array(v.object({ name: v.string(), resourceClaimName: v.optional(v.string()) }))),
    }),
    {},
  ),
});

/**
 * The pod as Multus needs it: metadata {name, namespace, uid, resourceVersion?, annotations,
 * labels (both {} when absent), ownerReferences?}, spec {nodeName?, resourceClaims?},
 * status {resourceClaimStatuses?}. Every other field is dropped.
 */
export type Pod = v.InferOutput<typeof podSchema>;

/** Validates an API object as a Pod; the error names the first failing field. */
export function decodePod(value: unknown): Pod {
  const result = v.safeParse(podSchema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const where = v.getDotPath(issue) ?? "(root)";
  throw new TypeError(`not a valid Pod: ${where}: ${issue.message}`);
}

export function podPath(namespace: string, name?: string, subresource?: string): string {
  return apiPath({ version: "v1", namespace, resource: "pods", ...(name === undefined ? {} : { name }), ...(subresource === undefined ? {} : { subresource }) });
}

export function nadPath(namespace: string, name?: string): string {
  return apiPath({ group: "k8s.cni.cncf.io", version: "v1", namespace, resource: "network-attachment-definitions", ...(name === undefined ? {} : { name }) });
}

/** Multus v1's legacy `kubernetes.com/v1` Network objects (opt-in, docs/legacy-networks.md). */
export function legacyNetworkPath(namespace: string, name?: string): string {
  return apiPath({ group: "kubernetes.com", version: "v1", namespace, resource: "networks", ...(name === undefined ? {} : { name }) });
}

/** The raw object: decoding `plugin` and `args` is netattach's job. */
export function getLegacyNetwork(client: KubeClient, namespace: string, name: string, opts: RequestOptions = {}): Promise<unknown> {
  return client.get(legacyNetworkPath(namespace, name), opts);
}

export function getPod(client: KubeClient, namespace: string, name: string, opts: RequestOptions = {}): Promise<Pod> {
  return client.get(podPath(namespace, name), { ...opts, decode: decodePod });
}

/** The raw object: decoding spec.config and the resourceName annotation is netattach's job. */
export function getNetworkAttachmentDefinition(client: KubeClient, namespace: string, name: string, opts: RequestOptions = {}): Promise<unknown> {
  return client.get(nadPath(namespace, name), opts);
}

/**
 * Writes the network-status annotation with one merge patch of the status subresource. With a `uid`
 * the patch carries it as a precondition: the API server refuses (409 Conflict) to touch a pod that
 * was deleted and recreated under the same name, so a late ADD never annotates its successor.
 */
export async function patchPodNetworkStatus(
  client: KubeClient,
  pod: { namespace: string; name: string; uid?: string },
  networkStatusJson: string,
  opts: RequestOptions = {},
): Promise<void> {
  const metadata: Record<string, unknown> = { annotations: { [NETWORK_STATUS_ANNOTATION]: networkStatusJson } };
  const uid = pod.uid;
  if (uid !== undefined && uid !== "") metadata["uid"] = uid;
  try {
    // The patched pod (kilobytes with its managedFields) is not needed: nothing decodes it.
    await client.patch(podPath(pod.namespace, pod.name, "status"), { metadata }, "merge", { ...opts, ignoreResponse: true });
  } catch (err) {
    // The API refuses a UID that is not the object's: 422 "metadata.uid: field is immutable" (a merge
    // patch) or 409 "Precondition failed: UID in precondition" (other patch types).
    if (uid !== undefined && err instanceof KubeApiError && (err.httpStatus === 409 || err.httpStatus === 422) && /\buid\b/i.test(err.apiMessage ?? "")) {
      throw new MultusError(
        "MULTUS_ERR_POD_NOT_FOUND",
        `pod ${pod.namespace}/${pod.name} was deleted and recreated (the API's pod is not UID ${uid}); its network-status was not written`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The object an event is about; for Multus, always a pod. */
export interface EventObjectReference {
  kind?: string;
  apiVersion?: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface EventSpec {
  involvedObject: EventObjectReference;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  /** "multus". */
  reportingComponent: string;
  /** The node name. */
  reportingInstance: string;
}

export interface CreateEventOptions extends RequestOptions {
  now?: () => Date;
}

/** A reference to a pod for events, with its UID so `kubectl describe` matches this incarnation only. */
export function podReference(pod: Pod): EventObjectReference {
  return { kind: "Pod", apiVersion: "v1", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}

/** Names are DNS subdomains (≤ 253); the pod part is shortened so the suffix always fits. */
function eventName(podName: string): string {
  // Unique enough for an event (a clash only loses that event); not node:crypto, which every thin
  // call would load at start-up.
  const hex8 = (n: number): string => Math.floor(n).toString(16).padStart(8, "0");
  const suffix = `${hex8(Date.now() % 2 ** 32)}${hex8(Math.random() * 2 ** 32)}`;
  const base = podName.slice(0, 253 - 1 - suffix.length).replace(/[^a-z0-9]+$/, "");
  return `${base === "" ? "pod" : base}.${suffix}`;
}

/** The note limit of events.k8s.io (1 KiB) applied to core events too, so long messages never get an event rejected. */
const MESSAGE_LIMIT = 1024;

/**
 * Creates a core/v1 Event. Why core/v1 and not events.k8s.io/v1: the fields the engine has
 * (reportingComponent/reportingInstance, involvedObject) are core/v1's; its legacy validation
 * needs no eventTime/action pair; upstream Multus (client-go's recorder) writes core/v1, so tools
 * watching for Multus events see the same objects; and `kubectl get/describe` shows both kinds
 * alike (they share one storage). deploy/rbac allows both.
 */
export async function createEvent(client: KubeClient, event: EventSpec, opts: CreateEventOptions = {}): Promise<string> {
  const now = (opts.now ?? (() => new Date()))();
  // metav1.Time is RFC 3339 with whole seconds.
  const timestamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const ref = event.involvedObject;
  const name = eventName(ref.name);
  const message = event.message.length > MESSAGE_LIMIT ? `${event.message.slice(0, MESSAGE_LIMIT - 1)}…` : event.message;
  const body = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name, namespace: ref.namespace },
    involvedObject: { kind: ref.kind ?? "Pod", apiVersion: ref.apiVersion ?? "v1", namespace: ref.namespace, name: ref.name, uid: ref.uid },
    reason: event.reason,
    message,
    type: event.type,
    source: { component: event.reportingComponent, host: event.reportingInstance },
    reportingComponent: event.reportingComponent,
    reportingInstance: event.reportingInstance,
    firstTimestamp: timestamp,
    lastTimestamp: timestamp,
    count: 1,
  };
  const { signal, timeoutMs, query } = opts;
  await client.create(apiPath({ version: "v1", namespace: ref.namespace, resource: "events" }), body, {
    ignoreResponse: true,
    ...(signal === undefined ? {} : { signal }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(query === undefined ? {} : { query }),
  });
  return name;
}

/** A static pod (from a manifest file or URL, not the API); the kubelet mirrors it into the API. */
export function isStaticPod(pod: Pod): boolean {
  const source = pod.metadata.annotations[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== "api";
}

/** On a mirror pod, the UID the runtime knows the static pod by; undefined on other pods. */
export function mirrorPodUid(pod: Pod): string | undefined {
  return pod.metadata.annotations[CONFIG_MIRROR_ANNOTATION];
}

/**
 * Whether the runtime's K8S_POD_UID names this pod: its own UID, or for a static pod's mirror the
 * UID in config.mirror (multus#773: upstream fails these with a UID mismatch).
 */
export function podUidMatches(pod: Pod, uid: string): boolean {
  if (pod.metadata.uid === uid) return true;
  return isStaticPod(pod) && mirrorPodUid(pod) === uid;
}

/** Who the API server says this client is (SelfSubjectReview, authentication.k8s.io/v1, GA in 1.28). */
export interface SelfIdentity {
  username: string;
  /** `authentication.kubernetes.io/node-name` of the user's extra: the node a pod-bound token's pod runs on. */
  nodeName: string | undefined;
}

/** The user info the API server derives from this client's credentials (any authenticated user may ask). */
export async function selfIdentity(client: KubeClient, opts: RequestOptions = {}): Promise<SelfIdentity> {
  const review = await client.create(apiPath({ group: "authentication.k8s.io", version: "v1", resource: "selfsubjectreviews" }), { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }, opts);
  const status = isRecord(review) && isRecord(review["status"]) ? review["status"] : {};
  const user = isRecord(status["userInfo"]) ? status["userInfo"] : {};
  const extra = isRecord(user["extra"]) ? user["extra"] : {};
  const node = extra["authentication.kubernetes.io/node-name"];
  const nodeName = Array.isArray(node) && typeof node[0] === "string" && node[0] !== "" ? node[0] : undefined;
  return { username: typeof user["username"] === "string" ? user["username"] : "", nodeName };
}
