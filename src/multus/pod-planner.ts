// Kubernetes mode: the plan for a pod = its cluster network (clusterNetwork, or the config's first
// delegate, or the pod's v1.multus-cni.io/default-network override), then defaultNetworks (unless the
// pod's namespace is a system namespace), then the networks its k8s.v1.cni.cncf.io/networks
// annotation selects (NPWG-05…17, 22, 27, 28). All lookups happen first; then the plan is assembled
// and validated as a whole (interface names, capabilities, default-route) before anything runs.
import { reviseDelegateConfig, withCniArgs, type DelegateSource } from "../cni/delegate-config.ts";
import type { NetConf } from "../cni/types.ts";
import { assignDevices, type DeviceDemand } from "../devices/device-assignment.ts";
import { attachmentInfoPath, devicePluginInfoPath } from "../devices/paths.ts";
import type { PodDevices } from "../devices/allocated-devices.ts";
import { checkNamespaceIsolation } from "../netattach/namespace-policy.ts";
import { parseSelectionAnnotation, type NetworkSelection } from "../netattach/selection-annotation.ts";
import { MultusError } from "../util/multus-error.ts";
import { checkInterfaceNames, delegateCniArgs, type Attachment, type AttachmentPlan, type PodRef } from "./attachment-plan.ts";
import { masterFirst, type CniRequest } from "./config-file-planner.ts";
import type { MultusConfig } from "./multus-config.ts";
import type { ResolvedNetwork } from "./network-resolver.ts";
import { NETWORKS_ANNOTATION, DEFAULT_NETWORK_ANNOTATION, LEGACY_NETWORKS_ANNOTATION } from "../k8s/annotations.ts";
import { parseLegacyNetworksAnnotation } from "../netattach/legacy-network.ts";


/** How the planner reaches NADs and config files: injected, so tests and the daemon choose the source. */
export interface NetworkResolver {
  /** A NAD selected by a pod (annotation or default-network override). */
  fromNad(namespace: string, name: string, podRef: string): Promise<ResolvedNetwork>;
  /** clusterNetwork / defaultNetworks entries: a NAD in multusNamespace, a CNI name in confDir, a dir or a file. */
  fromReference(ref: string, podRef: string): Promise<ResolvedNetwork>;
  /** A kubernetes.com/v1 Network object selected by a pod's legacy `networks` annotation (legacyNetworks). */
  fromLegacyNetwork(namespace: string, name: string, podRef: string): Promise<ResolvedNetwork>;
}

export interface PodPlanInput {
  config: MultusConfig;
  req: CniRequest;
  pod: PodRef;
  annotations: Readonly<Record<string, string>>;
  /**
   * The pod's devices for the given resource names (DRA claims, PodResources, the checkpoint); called
   * only when a network names a resource. Undefined: Multus cannot see the kubelet (an error then).
   */
  devices?: (resourceNames: string[]) => Promise<PodDevices>;
  /**
   * A plan rebuilt for a DEL without a journal: devices are not looked up (the kubelet may already
   * have released them, and a failed lookup must not cost the other networks their teardown).
   */
  teardown?: boolean;
}

/** Capability keys a selection may request, and the runtimeConfig key each becomes (NPWG-08…15). */
const CAPABILITY_OF = {
  ips: "ips",
  mac: "mac",
  portMappings: "portMappings",
  bandwidth: "bandwidth",
  infinibandGuid: "infinibandGUID",
} as const;

/** A network being looked up, and the selection that named it (none for the cluster and default networks). */
interface Lookup {
  net: Promise<ResolvedNetwork>;
  selection?: NetworkSelection;
  /** The interface name this lookup's attachment gets whatever its position (legacy networks: net0, net1, …). */
  ifName?: string;
}

/** Every lookup awaited; the first failure in plan order is thrown (the others are settled, not left unhandled). */
async function resolveInOrder(lookups: readonly Lookup[]): Promise<{ net: ResolvedNetwork; selection?: NetworkSelection; ifName?: string }[]> {
  const settledAll = await Promise.allSettled(lookups.map((l) => l.net));
  return settledAll.map((r, i) => {
    if (r.status === "rejected") throw r.reason;
    const { selection, ifName } = lookups[i] ?? {};
    return { net: r.value, ...(selection === undefined ? {} : { selection }), ...(ifName === undefined ? {} : { ifName }) };
  });
}

/**
 * Multus v1's selection (legacyNetworks, seeds 002/003): the pod's `networks` annotation, read only
 * when the pod has no k8s.v1.cni.cncf.io/networks. Its first Network replaces the cluster network
 * (as a default-network override does), the others are net0, net1, … in order (v1's names, which
 * seed 003's ifconfig shows). Networks are looked up in the pod's namespace, so namespace isolation
 * holds by construction; the delegate policy applies as to a NAD of that namespace.
 */
function legacyLookups(input: PodPlanInput, resolver: NetworkResolver, podRef: string): Lookup[] | undefined {
  const { config, annotations, pod } = input;
  const text = annotations[LEGACY_NETWORKS_ANNOTATION]?.trim() ?? "";
  if (!config.legacyNetworks || text === "" || (annotations[NETWORKS_ANNOTATION]?.trim() ?? "") !== "") return undefined;
  const names = parseLegacyNetworksAnnotation(text, podRef);
  if (names.length === 0) return undefined;
  if ((annotations[DEFAULT_NETWORK_ANNOTATION]?.trim() ?? "") !== "") {
    throw new MultusError(
      "MULTUS_ERR_BAD_SELECTION",
      `pod ${podRef}: both ${DEFAULT_NETWORK_ANNOTATION} and the legacy "${LEGACY_NETWORKS_ANNOTATION}" annotation choose the pod's cluster network; keep one of them`,
    );
  }
  return names.map((name, i) => ({ net: resolver.fromLegacyNetwork(pod.namespace, name, podRef), ...(i === 0 ? {} : { ifName: `net${String(i - 1)}` }) }));
}

export async function planForPod(input: PodPlanInput, resolver: NetworkResolver): Promise<AttachmentPlan> {
  const { config, req, pod } = input;
  const podRef = `${pod.namespace}/${pod.name}`;

  // Every network is looked up at once (the thin plugin's NAD GETs share one round trip over
  // HTTP/2); the plan keeps their order, and the first failure in that order is the one reported,
  // as if they had been looked up one by one.
  const base: Lookup[] = [];
  const legacy = legacyLookups(input, resolver, podRef);
  const override = input.annotations[DEFAULT_NETWORK_ANNOTATION]?.trim() ?? "";
  if (legacy !== undefined) {
    base.push(...legacy);
  } else if (override !== "") {
    const sel = parseSelectionAnnotation(override, config.multusNamespace, podRef, DEFAULT_NETWORK_ANNOTATION);
    const only = sel[0];
    if (sel.length !== 1 || only === undefined) {
      throw new MultusError("MULTUS_ERR_BAD_SELECTION", `pod ${podRef}: ${DEFAULT_NETWORK_ANNOTATION} must name exactly one network, it names ${String(sel.length)}`);
    }
    // namespaceIsolation covers every network a pod names: this one may come from the pod's own
    // namespace, multusNamespace (where the override looks by default) or globalNamespaces.
    checkNamespaceIsolation({
      podNamespace: pod.namespace,
      podRef,
      network: { namespace: only.namespace, name: only.name },
      isolation: config.namespaceIsolation,
      globalNamespaces: [config.multusNamespace, ...config.globalNamespaces],
      annotation: DEFAULT_NETWORK_ANNOTATION,
    });
    base.push({ net: resolver.fromNad(only.namespace, only.name, podRef) });
  } else if (config.clusterNetwork !== undefined) {
    base.push({ net: resolver.fromReference(config.clusterNetwork, podRef) });
  }
  if (config.clusterNetwork === undefined) {
    const delegates = masterFirst(config.delegates).slice(override === "" && legacy === undefined ? 0 : 1);
    for (const d of delegates) base.push({ net: Promise.resolve({ delegate: d.delegate, statusName: d.name }) });
  }
  if (base.length === 0) {
    throw new MultusError("MULTUS_ERR_CONFIG", 'the Multus config has neither "clusterNetwork" nor "delegates"');
  }

  // 2. defaultNetworks, skipped for system namespaces.
  // By the pod's namespace (upstream passed the pod's name to this check).
  if (!config.systemNamespaces.includes(pod.namespace)) {
    for (const ref of config.defaultNetworks) base.push({ net: resolver.fromReference(ref, podRef) });
  }

  // 3. The selection annotation, in order; a repeated network is a separate attachment (NPWG-17).
  const selections = parseSelectionAnnotation(input.annotations[NETWORKS_ANNOTATION] ?? "", pod.namespace, podRef);
  for (const sel of selections) {
    // A refusal takes the selection's place in the order, as its lookup's failure would.
    const net = (async (): Promise<ResolvedNetwork> => {
      checkNamespaceIsolation({
        podNamespace: pod.namespace,
        podRef,
        network: { namespace: sel.namespace, name: sel.name },
        isolation: config.namespaceIsolation,
        globalNamespaces: config.globalNamespaces,
        annotation: NETWORKS_ANNOTATION,
      });
      return resolver.fromNad(sel.namespace, sel.name, podRef);
    })();
    base.push({ net, selection: sel });
  }
  const resolved = await resolveInOrder(base);

  const podArgs: [string, string][] = [
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", req.containerId],
    ["K8S_POD_UID", pod.uid],
  ];
  const incoming = req.cniArgs.filter(([k]) => !podArgs.some(([p]) => p === k));

  const attachments: Attachment[] = resolved.map(({ net, selection, ifName }, index) => {
    const isDefault = index === 0;
    const a: Attachment = {
      index,
      network: net.statusName,
      // Upstream naming: the cluster network gets CNI_IFNAME; the others net<position>, an explicit
      // name still using up its position (so net2 stays net2 when net1 was renamed).
      ifName: isDefault ? req.ifName : (selection?.interface ?? ifName ?? `net${String(index)}`),
      delegate: selection?.cniArgs === undefined ? net.delegate : withCniArgs(net.delegate, selection.cniArgs, { policy: config.delegatePolicy, source: selectedBy(net.delegate.source, podRef) }),
      isDefault,
      cniArgs: delegateCniArgs([...podArgs, ...incoming, ...legacyArgs(selection)]),
      // NPWG-28: the runtime's runtimeConfig goes to the cluster network only.
      capabilityArgs: isDefault ? req.runtimeConfig : selectionCapabilities(selection),
    };
    if (selection?.defaultRoute !== undefined) a.defaultRoute = selection.defaultRoute;
    if (selection !== undefined) checkCapabilities(a, selection, podRef);
    return a;
  });
  await attachDevices(attachments, resolved, input, podRef);
  checkInterfaceNames(attachments);
  return { containerId: req.containerId, netns: req.netns, ifName: req.ifName, attachments, pod };
}

/**
 * Networks whose NAD names a resource get one of the pod's devices of it (device-assignment.ts): the
 * one the selection's `deviceID` names, which must be among them, else the next free one. A
 * selection's `deviceID` for a network without a resourceName is used as given (docs/devices.md). The
 * device goes into every plugin of the delegate (`deviceID` and `pciBusID`, as upstream), into the
 * `deviceID` capability, and gets a device-info file.
 */
async function attachDevices(attachments: Attachment[], base: readonly { net: ResolvedNetwork; selection?: NetworkSelection }[], input: PodPlanInput, podRef: string): Promise<void> {
  const demands: DeviceDemand[] = [];
  base.forEach(({ net, selection }, index) => {
    if (input.teardown === true || net.resourceName === undefined) return;
    const demand: DeviceDemand = { index, network: net.statusName, resourceName: net.resourceName };
    if (selection?.deviceId !== undefined) {
      demand.requested = selection.deviceId;
      demand.element = selection.element;
    }
    demands.push(demand);
  });
  let assigned = new Map<number, string>();
  let resourceOf = new Map<string, string>();
  if (demands.length > 0) {
    if (input.devices === undefined) {
      throw new MultusError("MULTUS_ERR_DEVICE", `pod ${podRef}: network "${demands[0]?.network ?? ""}" names a device resource, but Multus runs without a pod (config-file mode) and cannot ask the kubelet`);
    }
    const found = await input.devices([...new Set(demands.map((d) => d.resourceName))]);
    assigned = assignDevices(demands, found.devices, podRef, found.sources);
    resourceOf = found.resourceOf;
  }
  for (const a of attachments) {
    const at = base[a.index];
    const resourceName = at?.net.resourceName;
    // Only a network without a resourceName takes the selection's deviceID as given; a rebuilt
    // teardown plan looks no devices up, so it passes none for a network that has one.
    const id = resourceName === undefined ? at?.selection?.deviceId : assigned.get(a.index);
    if (id === undefined) continue;
    const infoFile = attachmentInfoPath(input.config.deviceInfoDir, a.delegate.name, input.req.containerId, a.ifName);
    // The device-info file is named after the device's own resource (for `<claim>/<request>`, the DRA attribute).
    const dpResource = resourceName === undefined ? undefined : (resourceOf.get(id) ?? resourceName);
    a.device = { id, infoFile, ...(resourceName === undefined || dpResource === undefined ? {} : { resourceName, dpInfoFile: devicePluginInfoPath(input.config.deviceInfoDir, dpResource, id) }) };
    a.delegate = reviseDelegateConfig(a.delegate, (list) => ({ ...list, plugins: list.plugins.map((p): NetConf => ({ ...p, deviceID: id, pciBusID: id })) }), { policy: input.config.delegatePolicy });
    a.capabilityArgs = { ...a.capabilityArgs, deviceID: id, CNIDeviceInfoFile: infoFile };
  }
}

/** A NAD's config as the pod's selection changes it is the pod's too (docs/security.md). */
function selectedBy(source: DelegateSource, podRef: string): DelegateSource {
  return source.kind === "nad" ? { ...source, kind: "annotation", pod: podRef } : source;
}

function selectionCapabilities(sel: NetworkSelection | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (sel === undefined) return out;
  if (sel.ips !== undefined) out["ips"] = sel.ips;
  if (sel.mac !== undefined) out["mac"] = sel.mac;
  if (sel.portMappings !== undefined) out["portMappings"] = sel.portMappings;
  if (sel.bandwidth !== undefined) out["bandwidth"] = sel.bandwidth;
  if (sel.infinibandGuid !== undefined) out["infinibandGUID"] = sel.infinibandGuid;
  return out;
}

/** Upstream also passes static requests as CNI_ARGS (IP=a,b and MAC=…), which some IPAMs read. */
function legacyArgs(sel: NetworkSelection | undefined): [string, string][] {
  const out: [string, string][] = [];
  if (sel?.ips !== undefined) out.push(["IP", sel.ips.join(",")]);
  if (sel?.mac !== undefined) out.push(["MAC", sel.mac]);
  return out;
}

/**
 * NPWG-08…15: a request no plugin of the network declares must not vanish. `ips` and `mac` also reach
 * the delegate as CNI_ARGS `IP=`/`MAC=` (upstream's route, which IPAMs like `static` and the tuning
 * plugin read): without the capability the attachment must show them in its result, or it is rolled
 * back (executor.ts). The other requests have no such route and fail here.
 */
export function checkCapabilities(a: Attachment, sel: NetworkSelection, podRef: string): void {
  const declares = (capability: string): boolean => a.delegate.plugins.some((p) => p.capabilities?.[capability] === true);
  const expect: NonNullable<Attachment["expect"]> = {};
  if (sel.ips !== undefined && !declares("ips")) expect.ips = sel.ips;
  if (sel.mac !== undefined && !declares("mac")) expect.mac = sel.mac;
  if (expect.ips !== undefined || expect.mac !== undefined) a.expect = expect;
  for (const [key, capability] of Object.entries(CAPABILITY_OF)) {
    if (key === "ips" || key === "mac") continue;
    if (sel[key as keyof typeof CAPABILITY_OF] === undefined) continue;
    if (declares(capability)) continue;
    throw new MultusError(
      "MULTUS_ERR_CAPABILITY_MISSING",
      `pod ${podRef}: network "${a.network}" (element ${String(sel.element)}) requests "${capability}" but none of its plugins declares "capabilities": {"${capability}": true}; add it to the NetworkAttachmentDefinition or drop the request`,
    );
  }
}
