// Which device-plugin devices the kubelet gave a pod, from its PodResources API (v1, the
// PodResourcesLister service on <kubelet root>/pod-resources/kubelet.sock). `Get` asks for the one
// pod; a kubelet with the KubeletPodResourcesGet gate off answers it with an error, and then `List`
// (every pod of the node) is used, cached for a moment so a burst of ADDs shares one answer instead
// of running into the kubelet's rate limit (upstream lists on every ADD, multus-behavior.md).
import { decodeMessage, encodeStrings, messagesOf, stringOf, stringsOf, type WireFields } from "./protobuf-wire.ts";
import { GrpcError, grpcUnary } from "./grpc-unary.ts";
import { untilAborted } from "../util/until-aborted.ts";

/** resourceName → device IDs, union over the pod's containers, in the kubelet's order. */
export type DeviceMap = Map<string, string[]>;

const SERVICE = "/v1.PodResourcesLister";
/** How long one List answer serves other ADDs (the daemon; a thin call makes one request anyway). */
const LIST_TTL_MS = 1000;
/** Each request's own deadline (upstream's 10 s), within the operation's budget. */
const DEFAULT_RPC_TIMEOUT_MS = 10_000;

interface ListCache {
  at: number;
  answer: Promise<WireFields[]>;
}

/** Per socket: whether Get is refused (learnt once per process) and the last List. */
const sockets = new Map<string, { getRefused: boolean; list?: ListCache }>();

function devicesOf(podResources: WireFields): DeviceMap {
  const out: DeviceMap = new Map();
  for (const container of messagesOf(podResources, 3)) {
    for (const devices of messagesOf(container, 2)) {
      const resource = stringOf(devices, 1);
      const ids = stringsOf(devices, 2);
      if (resource === "" || ids.length === 0) continue;
      out.set(resource, [...(out.get(resource) ?? []), ...ids]);
    }
  }
  return out;
}

/** Get refused by the kubelet itself (gate off, or an older kubelet without the method). */
function getUnsupported(err: unknown): boolean {
  return err instanceof GrpcError && (err.status === 12 || /Get method disabled/i.test(err.message));
}


export interface PodResourcesOptions {
  /** Each request's own deadline (default 10 s). */
  rpcTimeoutMs?: number;
}

/**
 * The pod's devices; undefined when the kubelet does not know the pod (not admitted yet, or gone).
 * Throws GrpcError when the socket does not answer. `signal` is the caller's budget.
 */
export async function podResourcesDevices(
  socketPath: string,
  namespace: string,
  name: string,
  signal: AbortSignal,
  opts: PodResourcesOptions = {},
): Promise<DeviceMap | undefined> {
  const timeoutMs = opts.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  const state = sockets.get(socketPath) ?? { getRefused: false };
  sockets.set(socketPath, state);
  if (!state.getRefused) {
    try {
      const answer = decodeMessage(await grpcUnary(socketPath, `${SERVICE}/Get`, encodeStrings({ 1: name, 2: namespace }), AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])));
      const pod = messagesOf(answer, 1)[0];
      return pod === undefined ? undefined : devicesOf(pod);
    } catch (err) {
      if (err instanceof GrpcError && /not found/i.test(err.message) && err.status !== 14) return undefined;
      if (!getUnsupported(err)) throw err;
      state.getRefused = true;
    }
  }
  const find = (pods: WireFields[]): WireFields | undefined => pods.find((p) => stringOf(p, 1) === name && stringOf(p, 2) === namespace);
  const what = `${SERVICE}/List on ${socketPath}`;
  const cached = state.list;
  if (cached !== undefined && Date.now() - cached.at <= LIST_TTL_MS) {
    const pod = find(await untilAborted(cached.answer, signal, () => new GrpcError(4, `${what}: no answer before the deadline`)).catch(() => []));
    // An answer started before this pod was admitted does not list it: ask again once.
    if (pod !== undefined) return devicesOf(pod);
  }
  // The shared request has its own deadline, so that no single caller's budget ends it for the others.
  const answer = grpcUnary(socketPath, `${SERVICE}/List`, new Uint8Array(), AbortSignal.timeout(timeoutMs)).then((bytes) => messagesOf(decodeMessage(bytes), 1));
  const entry: ListCache = { at: Date.now(), answer };
  state.list = entry;
  // A failed List is not cached.
  answer.catch(() => {
    if (state.list === entry) delete state.list;
  });
  const pod = find(await untilAborted(answer, signal, () => new GrpcError(4, `${what}: no answer before the deadline`)));
  return pod === undefined ? undefined : devicesOf(pod);
}
/** Forget what was learnt about the sockets (tests). */
export function resetPodResourcesState(): void {
  sockets.clear();
}
