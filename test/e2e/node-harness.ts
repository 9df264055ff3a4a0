// Harness for end-to-end tests on a real node: the control plane of test/cluster/cluster.sh plus
// the node of test/cluster/node/node.sh (containerd + runc + kubelet in a dedicated network
// namespace, dist/bin/multus in front of a bridge + host-local cluster network). Pods are created
// with kubectl, run by kubelet, and inspected with `kubectl exec`.
//
// The e2e suite uses a control plane of its own (state dir, ports below) unless the environment
// names one: its node runs a scheduler and a kubelet, which would start the Pending pods other
// suites create on the default control plane.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { CommandError, applyYaml, kubectl, releaseCluster, run, startCluster, tryKubectl, uniqueName } from "../cluster/harness.ts";

const e2eDefaults: Record<string, string> = {
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e",
  MULTUS_TS_APISERVER_PORT: "18443",
  MULTUS_TS_ETCD_PORT: "14379",
  MULTUS_TS_KUBELET_PORT: "10250",
};
for (const [key, value] of Object.entries(e2eDefaults)) process.env[key] ??= value;

const clusterScript = fileURLToPath(new URL("../cluster/cluster.sh", import.meta.url));
/** A cold node start imports images and waits for Ready (≈ 5 s); the control plane may need a build. */
const nodeUpTimeoutMs = 5 * 60_000;

export const NODE_NAME = "localhost";
export const BUSYBOX = "docker.io/library/busybox:mt";

export interface NodeInfo {
  readonly name: string;
  /** The node's network namespace: bridges, veths and iptables rules of the node live there. */
  readonly netns: string;
  /** The node's state dir: net.d/, ipam/ (host-local leases), multus/ (attachment records, cache). */
  readonly stateDir: string;
}

/** The value of a `KEY=VALUE` line a script printed (`what` names the script in the error). */
function field(stdout: string, key: string, what = "cluster.sh node-up"): string {
  const value = new RegExp(`^${key}=(.*)$`, "m").exec(stdout)?.[1];
  if (value === undefined) throw new Error(`${what} printed no ${key}= line:\n${stdout}`);
  return value;
}

/** A third-party image built here from the Go module proxy (node/whereabouts.sh, node/upstream-multus.sh). */
export interface GoModuleImage {
  /** The OCI archive. */
  readonly image: string;
  /** The name it carries (its project's, with the release as tag). */
  readonly imageName: string;
  /** The module's source directory: its manifests are applied from there. */
  readonly moduleDir: string;
}

/** `bash <script> build`: builds (or finds cached) the image; its first build may take minutes. */
export async function buildGoModuleImage(script: string): Promise<GoModuleImage> {
  const what = `${script.split("/").pop() ?? script} build`;
  const result = await run("bash", [script, "build"], { timeoutMs: 30 * 60_000, echoStderr: true });
  if (result.code !== 0) throw new CommandError(what, result);
  return { image: field(result.stdout, "IMAGE", what), imageName: field(result.stdout, "IMAGE_NAME", what), moduleDir: field(result.stdout, "MODULE_DIR", what) };
}

/** `ctr images import` into a node's containerd: what a registry pull would have put there. */
export async function importImage(node: NodeInfo, archive: string): Promise<void> {
  const result = await run("ctr", ["--address", join(node.stateDir, "containerd.sock"), "--namespace", "k8s.io", "images", "import", "--platform", "linux/amd64", archive], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new CommandError(`ctr images import ${archive}`, result);
}

/**
 * `cluster.sh node-up`: starts the node, or reuses a Ready one. Fails loudly, never skips. `number`
 * 2…9 starts a further node (`node-<number>`) of the same control plane beside the first, on the
 * first node's "lan" segment (node.sh, MULTUS_TS_NODE_NUMBER).
 */
export async function startNode(number = 1): Promise<NodeInfo> {
  const result = await run("env", [`MULTUS_TS_NODE_NUMBER=${String(number)}`, "bash", clusterScript, "node-up"], { timeoutMs: nodeUpTimeoutMs, echoStderr: true });
  if (result.code !== 0) throw new CommandError(`cluster.sh node-up (node ${String(number)})`, result);
  return { name: field(result.stdout, "NODE_NAME"), netns: field(result.stdout, "NODE_NETNS"), stateDir: field(result.stdout, "NODE_STATE") };
}

/**
 * File-level hooks: control plane (held by this process) and node up before the first test; the
 * hold released after the last one. The last holder's release stops the node with the control plane.
 */
export function useNode(): () => NodeInfo {
  let info: NodeInfo | undefined;
  before(async () => {
    await startCluster();
    info = await startNode();
  });
  after(async () => {
    await releaseCluster();
  });
  return () => {
    if (info === undefined) throw new Error("useNode(): the node is not up (before() failed?)");
    return info;
  };
}

/**
 * A namespace for one test, deleted (without waiting) when the test ends. Unlike the cluster
 * harness's createNamespace(), it tolerates kube-controller-manager creating the `default`
 * ServiceAccount at the same moment (the node runs one, so the two race).
 */
export async function createNamespace(t: TestContext): Promise<string> {
  const name = uniqueName("mte2e", t.name);
  await kubectl(["create", "namespace", name]);
  t.after(async () => {
    await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found"]);
  });
  await kubectl(["label", "namespace", name, "multus-ts.test/owned=true"]);
  const created = await tryKubectl(["create", "serviceaccount", "default"], { namespace: name });
  if (created.code !== 0 && !/already ?exists/i.test(created.stderr)) {
    throw new CommandError("kubectl create serviceaccount default", created);
  }
  return name;
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Container ports; a hostPort makes kubelet ask the runtime for a port mapping. */
  readonly ports?: readonly { readonly containerPort: number; readonly hostPort?: number }[];
  /** Extended resources (device plugins' `intel.com/…`), requested and limited alike. */
  readonly resources?: Readonly<Record<string, number>>;
}

function resourceAmounts(r: Readonly<Record<string, number>>): { requests: Record<string, string>; limits: Record<string, string> } {
  const amounts = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
  return { requests: amounts, limits: amounts };
}

/** A busybox pod bound to the test node (no scheduler needed) that exits at once on SIGTERM. */
export async function createPod(pod: PodSpec): Promise<void> {
  await applyYaml(
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: pod.name, namespace: pod.namespace, annotations: pod.annotations ?? {} },
      spec: {
        nodeName: NODE_NAME,
        automountServiceAccountToken: false,
        // The node has no cluster DNS; "Default" avoids kubelet's MissingClusterDNS event.
        dnsPolicy: "Default",
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: "main",
            image: BUSYBOX,
            imagePullPolicy: "Never",
            command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
            ...(pod.ports === undefined ? {} : { ports: pod.ports }),
            ...(pod.resources === undefined ? {} : { resources: resourceAmounts(pod.resources) }),
          },
        ],
      },
    }),
  );
}

export async function waitPodReady(namespace: string, name: string, timeoutSeconds = 90): Promise<void> {
  await kubectl(["wait", `pod/${name}`, "--for=condition=Ready", `--timeout=${String(timeoutSeconds)}s`], {
    namespace,
    timeoutMs: (timeoutSeconds + 15) * 1000,
  });
}

export async function deletePod(namespace: string, name: string): Promise<void> {
  await kubectl(["delete", "pod", name, "--wait=true", "--timeout=60s"], { namespace, timeoutMs: 75_000 });
}

export async function podExec(namespace: string, name: string, argv: readonly string[]): Promise<string> {
  return kubectl(["exec", name, "--", ...argv], { namespace });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export async function podObject(namespace: string, name: string): Promise<Record<string, unknown>> {
  const parsed: unknown = JSON.parse(await kubectl(["get", "pod", name, "-o", "json"], { namespace }));
  if (!isRecord(parsed)) throw new Error(`pod ${namespace}/${name}: not an object`);
  return parsed;
}

export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly ips: readonly string[];
  readonly mac?: string;
  readonly default: boolean;
}

/** The pod's `k8s.v1.cni.cncf.io/network-status` annotation, validated. */
export async function networkStatus(namespace: string, name: string): Promise<NetworkStatusEntry[]> {
  const pod = await podObject(namespace, name);
  const metadata = pod["metadata"];
  const annotations = isRecord(metadata) ? metadata["annotations"] : undefined;
  const text = isRecord(annotations) ? annotations["k8s.v1.cni.cncf.io/network-status"] : undefined;
  if (typeof text !== "string") throw new Error(`pod ${namespace}/${name} has no network-status annotation`);
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`network-status is not a list: ${text}`);
  return parsed.map((entry: unknown) => {
    if (!isRecord(entry) || typeof entry["name"] !== "string" || typeof entry["default"] !== "boolean") {
      throw new Error(`bad network-status entry: ${JSON.stringify(entry)}`);
    }
    const ips = entry["ips"] ?? [];
    if (!Array.isArray(ips) || !ips.every((ip) => typeof ip === "string")) throw new Error(`bad ips in ${JSON.stringify(entry)}`);
    const iface = entry["interface"];
    const mac = entry["mac"];
    return {
      name: entry["name"],
      ips,
      default: entry["default"],
      ...(typeof iface === "string" ? { interface: iface } : {}),
      ...(typeof mac === "string" ? { mac } : {}),
    };
  });
}

export interface PodInterface {
  readonly name: string;
  readonly mac?: string;
  /** Addresses without prefix length, IPv4 and IPv6 (link-local IPv6 excluded). */
  readonly ips: readonly string[];
}

/**
 * Parses busybox `ip addr` output (busybox has no `ip -json`):
 *   2: eth0@if3: <BROADCAST,…> mtu 1500 …
 *       link/ether 82:94:cc:3d:d5:3b brd ff:ff:ff:ff:ff:ff
 *       inet 10.244.0.2/24 brd 10.244.0.255 scope global eth0
 */
export function parseIpAddr(text: string): PodInterface[] {
  const interfaces: { name: string; mac?: string; ips: string[] }[] = [];
  for (const line of text.split("\n")) {
    const header = /^\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:/.exec(line);
    if (header?.[1] !== undefined) {
      interfaces.push({ name: header[1], ips: [] });
      continue;
    }
    const current = interfaces.at(-1);
    if (current === undefined) continue;
    const link = /^\s+link\/(?!loopback)\S+\s+([0-9a-f:]{17})/.exec(line);
    if (link?.[1] !== undefined) current.mac = link[1];
    const inet = /^\s+inet6?\s+([0-9a-f.:]+)\/\d+.*scope\s+(\S+)/.exec(line);
    if (inet?.[1] !== undefined && inet[2] !== "link") current.ips.push(inet[1]);
  }
  return interfaces;
}

export async function podInterfaces(namespace: string, name: string): Promise<PodInterface[]> {
  return parseIpAddr(await podExec(namespace, name, ["ip", "addr"]));
}

/** containerd's own view of a pod: its sandbox container and the sandbox's network namespace. */
export async function podSandbox(node: NodeInfo, namespace: string, name: string): Promise<{ id: string; netns: string }> {
  const uid = (await kubectl(["get", "pod", name, "-o", "jsonpath={.metadata.uid}"], { namespace })).trim();
  const ctr = ["--address", join(node.stateDir, "containerd.sock"), "--namespace", "k8s.io"];
  const listed = await run("ctr", [...ctr, "containers", "ls", "-q", `labels."io.kubernetes.pod.uid"==${uid},labels."io.cri-containerd.kind"==sandbox`]);
  if (listed.code !== 0) throw new CommandError("ctr containers ls", listed);
  const ids = listed.stdout.split("\n").filter((line) => line !== "");
  const [id] = ids;
  if (id === undefined || ids.length !== 1) throw new Error(`pod ${namespace}/${name}: expected one sandbox, ctr listed ${JSON.stringify(ids)}`);
  const info = await run("ctr", [...ctr, "containers", "info", id]);
  if (info.code !== 0) throw new CommandError("ctr containers info", info);
  const parsed: unknown = JSON.parse(info.stdout);
  const spec = isRecord(parsed) ? parsed["Spec"] : undefined;
  const linux = isRecord(spec) ? spec["linux"] : undefined;
  const namespaces = isRecord(linux) && Array.isArray(linux["namespaces"]) ? linux["namespaces"] : [];
  const network = namespaces.filter(isRecord).find((n) => n["type"] === "network");
  const path = network?.["path"];
  if (typeof path !== "string") throw new Error(`sandbox ${id} has no network namespace path`);
  return { id, netns: path };
}

/** The pod's interfaces by the host's iproute2 (`ip -json addr`) entered into the sandbox netns. */
export async function podInterfacesIpJson(node: NodeInfo, namespace: string, name: string): Promise<PodInterface[]> {
  const { netns } = await podSandbox(node, namespace, name);
  // The sandbox netns is mounted in the node's mount namespace only (node.sh): enter that first.
  const result = await run("nsenter", [`--mount=${join(node.stateDir, "ns", "mnt")}`, "--", "nsenter", `--net=${netns}`, "ip", "-json", "addr", "show"]);
  if (result.code !== 0) throw new CommandError("ip -json addr", result);
  const parsed: unknown = JSON.parse(result.stdout);
  if (!Array.isArray(parsed)) throw new Error("ip -json addr: not a list");
  return parsed.filter(isRecord).map((link) => {
    const addrs = Array.isArray(link["addr_info"]) ? link["addr_info"].filter(isRecord) : [];
    const mac = link["address"];
    return {
      name: String(link["ifname"]),
      ...(typeof mac === "string" && link["link_type"] !== "loopback" ? { mac } : {}),
      ips: addrs.filter((a) => a["scope"] !== "link").map((a) => String(a["local"])),
    };
  });
}

/** `iptables-save -t nat` of the node's network namespace (portmap's DNAT rules live there). */
export async function nodeNatRules(node: NodeInfo): Promise<string[]> {
  const result = await run("nsenter", [`--net=/run/netns/${node.netns}`, "iptables-save", "-t", "nat"]);
  if (result.code !== 0) throw new CommandError("iptables-save", result);
  return result.stdout.split("\n");
}

export async function createNad(namespace: string, name: string, config: Record<string, unknown>): Promise<void> {
  await applyYaml(
    JSON.stringify({
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name, namespace },
      spec: { config: JSON.stringify(config) },
    }),
  );
}

/** Link names in the node's network namespace (host iproute2, which has -json). */
export async function nodeLinks(node: NodeInfo): Promise<{ name: string; kind: string | undefined }[]> {
  const result = await run("ip", ["-json", "-d", "-netns", node.netns, "link", "show"]);
  if (result.code !== 0) throw new CommandError("ip link show", result);
  const parsed: unknown = JSON.parse(result.stdout);
  if (!Array.isArray(parsed)) throw new Error("ip -json link: not a list");
  return parsed.filter(isRecord).map((l) => {
    const info = l["linkinfo"];
    const kind = isRecord(info) && typeof info["info_kind"] === "string" ? info["info_kind"] : undefined;
    return { name: String(l["ifname"]), kind };
  });
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return [];
    throw error;
  }
}

/**
 * What a pod leaves on the node while attached: veths in the node netns, host-local leases
 * (one file per IP), multus attachment records and libcni result-cache entries.
 */
export async function nodeResidue(node: NodeInfo): Promise<Set<string>> {
  const items = new Set<string>();
  for (const link of await nodeLinks(node)) if (link.kind === "veth") items.add(`veth ${link.name}`);
  for (const file of await listFiles(join(node.stateDir, "ipam"))) {
    if (/\/[0-9a-f.:]+$/.test(file) && !file.endsWith("/lock")) items.add(`lease ${file}`);
  }
  for (const file of await listFiles(join(node.stateDir, "multus"))) items.add(`record ${file}`);
  return items;
}

/** Events about one object, oldest first. */
export async function eventMessages(namespace: string, name: string): Promise<string[]> {
  const out = await kubectl(["get", "events", "--field-selector", `involvedObject.name=${name}`, "-o", "json"], { namespace });
  const parsed: unknown = JSON.parse(out);
  const items = isRecord(parsed) && Array.isArray(parsed["items"]) ? parsed["items"] : [];
  return items.filter(isRecord).map((e) => `${String(e["reason"])}: ${String(e["message"])}`);
}

export async function podPhaseAndWaiting(namespace: string, name: string): Promise<string> {
  const result = await tryKubectl(
    ["get", "pod", name, "-o", "jsonpath={.status.phase}/{.status.containerStatuses[0].state.waiting.reason}"],
    { namespace },
  );
  return result.stdout.trim();
}

/** Polls `check` until it returns true or the deadline passes; returns the last outcome. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
